//! The `failing` scenario: five of ten webhooks answer 500, and the figure is
//! the deliveries per second of the other five.
//!
//! A customer's broken endpoint should not slow the working ones. The retry
//! schedule is shortened to seconds so that the retries compete with the
//! healthy deliveries inside the measured window.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::hookrelay::Hookrelay;
use crate::postgres::Postgres;
use crate::receiver::Receiver;
use crate::support::{wait_until, BenchResult};

/// Half the webhooks answer 500: deliveries/s of the healthy half.
pub async fn failing(
    binary: &Path,
    server: &Postgres,
    receiver: &Receiver,
    backlog: usize,
) -> BenchResult<f64> {
    let url = server.fresh().await?;
    {
        let api = Arc::new(Hookrelay::start(binary, &url, &[("HOOKRELAY_WORKERS", "0")]).await?);
        for i in 0..10 {
            let path = if i % 2 == 0 { "ok" } else { "fail" };
            api.webhook(&format!("{}/{path}", receiver.base), &["bench.failing"])
                .await?;
        }
        api.emit_many("bench.failing", backlog / 10, 64).await?;
        if let Ok(api) = Arc::try_unwrap(api) {
            api.stop();
        }
    }
    receiver.reset();
    let healthy = backlog / 2;
    let started = Instant::now();
    let _h = Hookrelay::start(
        binary,
        &url,
        &[(
            "HOOKRELAY_RETRY_SCHEDULE",
            "200ms,400ms,800ms,1600ms,3200ms",
        )],
    )
    .await?;
    wait_until("the healthy half", Duration::from_secs(600), || async {
        Ok(receiver.count() >= healthy)
    })
    .await?;
    Ok(healthy as f64 / started.elapsed().as_secs_f64())
}
