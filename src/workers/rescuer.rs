//! The rescuer: hands back claims whose lease expired (the process holding
//! them was killed, or lost the database), which is how a killed process's
//! claims come back, and runs the safety net of `held`.

use std::sync::Arc;
use std::time::Duration;

use super::Shared;
use crate::queue;

/// Hands expired leases back on a timer: a quarter of the lease, between 100 ms
/// and 5 s. On the same timer, the safety net of `held`: pending deliveries
/// held under an enabled webhook are released (none should be found).
pub(super) async fn run(shared: Arc<Shared>) {
    let every = (shared.config.lease / 4).clamp(Duration::from_millis(100), Duration::from_secs(5));
    let max_attempts = shared.config.retry_schedule.max_attempts();
    loop {
        tokio::time::sleep(every).await;
        let rescued = async {
            let mut client = shared.pool.get().await?;
            queue::rescue_expired(&mut client, max_attempts).await
        }
        .await;
        match rescued {
            Ok(0) => {}
            Ok(n) => {
                tracing::warn!(count = n, "rescued deliveries whose lease expired");
                shared.wake.notify_one();
            }
            Err(e) => tracing::debug!(error = %e, "rescuer could not reach the database"),
        }
        let reconciled = async {
            let client = shared.pool.get().await?;
            queue::reconcile_held(&client).await
        }
        .await;
        match reconciled {
            Ok(0) => {}
            Ok(n) => {
                tracing::warn!(
                    count = n,
                    "released deliveries held under an enabled webhook"
                );
                shared.wake.notify_one();
            }
            Err(e) => tracing::debug!(error = %e, "could not reconcile held deliveries"),
        }
    }
}
