//! A delivery retried by hand: back in the queue with a fresh budget, and
//! this process's workers told at once.

use uuid::Uuid;

use super::ServiceError;
use crate::api::AppState;
use crate::store::deliveries::{self, Delivery, Retry};
use crate::store::Scope;

pub async fn requeue(
    state: &AppState,
    scope: Scope<'_>,
    id: Uuid,
) -> Result<Delivery, ServiceError> {
    match deliveries::retry(&state.db().await?, id, scope).await? {
        Retry::Requeued(delivery) => {
            state.wakeup.new_work();
            Ok(*delivery)
        }
        Retry::NotFound => Err(ServiceError::no("delivery", id)),
        Retry::Busy(status) => Err(ServiceError::Conflict(format!(
            "delivery {id} is {status}; only a success or failed delivery can be retried"
        ))),
        Retry::WebhookDeleted => Err(ServiceError::Conflict(format!(
            "delivery {id} cannot be retried: its webhook was deleted"
        ))),
    }
}
