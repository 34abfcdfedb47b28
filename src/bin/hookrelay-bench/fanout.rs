//! The `fanout` scenario: one event type with 50 webhooks, so that each event
//! makes 50 deliveries.
//!
//! `drain` has one delivery per event; this is the other end, where one
//! accepted event writes many delivery rows and the workers send many
//! deliveries of the same event to the same receiver.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::hookrelay::Hookrelay;
use crate::postgres::{connect, count_unfinished, Postgres};
use crate::receiver::Receiver;
use crate::support::{wait_until, BenchResult};

/// One event type, 50 webhooks: deliveries/s from the first emit to the last arrival.
pub async fn fanout(
    binary: &Path,
    server: &Postgres,
    receiver: &Receiver,
    events: usize,
) -> BenchResult<f64> {
    let url = server.fresh().await?;
    let db = connect(&url).await?;
    let h = Arc::new(Hookrelay::start(binary, &url, &[]).await?);
    for _ in 0..50 {
        h.webhook(&format!("{}/ok", receiver.base), &["bench.fanout"])
            .await?;
    }
    receiver.reset();
    let expected = events * 50;
    let started = Instant::now();
    h.emit_many("bench.fanout", events, 8).await?;
    wait_until("fan-out deliveries", Duration::from_secs(600), || async {
        Ok(receiver.count() >= expected && count_unfinished(&db).await? == 0)
    })
    .await?;
    Ok(expected as f64 / started.elapsed().as_secs_f64())
}
