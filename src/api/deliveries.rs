//! `/deliveries`: read them with their attempt log, and send one again.

use actix_web::web::{Data, Path};
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;

use super::pagination::{Paginated, Query};
use super::{not_found_id, parse_id, ApiError, AppState};
use crate::store::deliveries::{self, Attempt, Delivery, Filter, Retry};

const STATUSES: [&str; 4] = ["pending", "processing", "success", "failed"];

#[derive(Serialize)]
struct DeliveryWithAttempts {
    #[serde(flatten)]
    delivery: Delivery,
    attempt_log: Vec<Attempt>,
}

pub async fn list(state: Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let query = Query::parse(req.query_string())?;
    let page = query.page()?;
    let status = query
        .get("status")
        .map(|s| {
            STATUSES
                .iter()
                .find(|known| **known == s)
                .map(|known| known.to_string())
                .ok_or_else(|| {
                    ApiError::invalid(
                        "status",
                        "must be one of pending, processing, success, failed",
                    )
                })
        })
        .transpose()?;
    let filter = Filter {
        status,
        webhook_id: query.uuid("webhook_id")?,
        event_id: query.uuid("event_id")?,
        created_after: query.time("created_after")?,
        created_before: query.time("created_before")?,
    };
    let rows = deliveries::list(&state.db().await?, page, &filter).await?;
    Ok(HttpResponse::Ok().json(Paginated::new(rows, page, |d| (d.created_at, d.id))))
}

pub async fn get(state: Data<AppState>, id: Path<String>) -> Result<HttpResponse, ApiError> {
    let id = parse_id("delivery", &id)?;
    let client = state.db().await?;
    let delivery = deliveries::get(&client, id)
        .await?
        .ok_or_else(|| not_found_id("delivery", id))?;
    let attempt_log = deliveries::attempts(&client, id).await?;
    Ok(HttpResponse::Ok().json(DeliveryWithAttempts {
        delivery,
        attempt_log,
    }))
}

pub async fn retry(state: Data<AppState>, id: Path<String>) -> Result<HttpResponse, ApiError> {
    let id = parse_id("delivery", &id)?;
    match deliveries::retry(&state.db().await?, id).await? {
        Retry::Requeued(delivery) => {
            state.wakeup.new_work();
            Ok(HttpResponse::Accepted().json(delivery))
        }
        Retry::NotFound => Err(not_found_id("delivery", id)),
        Retry::Busy(status) => Err(ApiError::Conflict(format!(
            "delivery {id} is {status}; only a success or failed delivery can be retried"
        ))),
    }
}
