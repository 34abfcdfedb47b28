//! The `steady` scenario: end-to-end latency percentiles at fixed offered
//! rates, and the rate hookrelay accepted at each.
//!
//! Open loop: events go out on a clock, not when the previous answer came, so
//! a slow hookrelay shows as latency and refusals rather than as a lower
//! offered rate. `tenant-backlog` measures its latency with the same
//! `latency_at`, so that the two can be set side by side.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use crate::hookrelay::Hookrelay;
use crate::postgres::Postgres;
use crate::receiver::{Receiver, Wall};
use crate::support::{wait_until, BenchResult};

/// End-to-end latency percentiles at fixed offered rates (open loop).
pub async fn steady(
    binary: &Path,
    server: &Postgres,
    receiver: &Receiver,
    secs: u64,
) -> BenchResult<Vec<(u32, (f64, f64, f64), f64)>> {
    let url = server.fresh().await?;
    let h = Arc::new(Hookrelay::start(binary, &url, &[]).await?);
    h.webhook(&format!("{}/ok", receiver.base), &["bench.steady"])
        .await?;
    let mut out = Vec::new();
    let mut seq_base = 0u64;
    for rate in [100u32, 1_000, 5_000] {
        let (p, accepted) = latency_at(
            &h,
            receiver,
            rate,
            secs,
            seq_base,
            |seq| json!({"type": "bench.steady", "payload": {"seq": seq}}),
        )
        .await?;
        out.push((rate, p, accepted));
        seq_base += u64::from(rate) * secs;
    }
    Ok(out)
}

/// Latency percentiles (ms) of `rate` events/s offered open-loop for `secs`,
/// the body of each made by `body(seq)` with sequence numbers from `seq_base`,
/// and the rate hookrelay accepted (beyond its capacity it answers 503, the
/// database pool exhausted, rather than queue without bound).
pub async fn latency_at(
    h: &Arc<Hookrelay>,
    receiver: &Receiver,
    rate: u32,
    secs: u64,
    seq_base: u64,
    body: fn(u64) -> Value,
) -> BenchResult<((f64, f64, f64), f64)> {
    receiver.reset();
    let total = u64::from(rate) * secs;
    let accepted: Arc<Mutex<HashMap<u64, Wall>>> = Arc::default();
    let per_tick = u64::from(rate / 1000).max(1);
    let tick = Duration::from_micros(1_000_000 * per_tick / u64::from(rate));
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::new();
    let mut sent = 0;
    while sent < total {
        interval.tick().await;
        for _ in 0..per_tick.min(total - sent) {
            let (h, accepted, seq) = (h.clone(), accepted.clone(), seq_base + sent);
            tasks.push(tokio::spawn(async move {
                if let Ok((201, event)) = h.post("/events", &body(seq)).await {
                    let created = event["created_at"]
                        .as_str()
                        .and_then(|t| t.parse::<Wall>().ok());
                    if let (Some(created), Ok(mut a)) = (created, accepted.lock()) {
                        a.insert(seq, created);
                    }
                }
            }));
            sent += 1;
        }
    }
    for t in tasks {
        let _ = t.await;
    }
    let expected = accepted.lock().map(|a| a.len()).unwrap_or(0);
    wait_until("timed deliveries", Duration::from_secs(120), || async {
        Ok(receiver.count() >= expected)
    })
    .await?;
    let mut latencies: Vec<f64> = {
        let accepted = accepted.lock().map_err(|_| "lock")?;
        let arrived = receiver.arrived.lock().map_err(|_| "lock")?;
        accepted
            .iter()
            .filter_map(|(seq, at)| {
                arrived
                    .get(seq)
                    .map(|got| (*got - *at).num_microseconds().unwrap_or(0) as f64 / 1000.0)
            })
            .collect()
    };
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(f64::NAN)
    };
    Ok((
        (pct(0.50), pct(0.95), pct(0.99)),
        expected as f64 / secs as f64,
    ))
}
