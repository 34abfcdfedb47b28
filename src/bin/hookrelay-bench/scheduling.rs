//! The scheduling scenarios: what ordering keys cost, and whether a limited or
//! paused webhook's backlog costs the others anything.
//!
//! - `ordered`: `drain` again, with the events spread over 1,000 ordering
//!   keys, so that each key's deliveries go one at a time, in order.
//! - `ordered, one key`: every event under one key, at a receiver that answers
//!   in a millisecond: how fast one strict sequence goes, claim to claim.
//! - `rate-limited backlog`: a webhook limited to 1,000/s with 100,000 due,
//!   beside an unlimited one with `drain`'s backlog: the limited one should
//!   send at its limit, the other as fast as `drain`.
//! - `paused backlog`: a million deliveries due at a webhook whose breaker has
//!   paused it, then `drain`'s backlog at another.
//!
//! Backlogs are made as `drain` makes its own, by a process with no workers,
//! except the paused million, written with SQL (through the API it would take
//! minutes a repeat) as the API writes them: due at once, not yet claimed.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::hookrelay::Hookrelay;
use crate::postgres::{connect, count_unfinished, Postgres};
use crate::receiver::Receiver;
use crate::support::{wait_until, BenchResult};

/// The body of the `seq`th event of a backlog.
type Body = Arc<dyn Fn(usize) -> Value + Send + Sync>;

/// Makes webhooks and a backlog with a process that has no workers.
async fn backlog_of(
    binary: &Path,
    url: &str,
    webhooks: &[Value],
    events: Vec<(usize, Body)>,
) -> BenchResult<()> {
    let api = Arc::new(Hookrelay::start(binary, url, &[("HOOKRELAY_WORKERS", "0")]).await?);
    for webhook in webhooks {
        let (status, body) = api.post("/webhooks", webhook).await?;
        if status != 201 {
            return Err(format!("creating a webhook answered {status}: {body}").into());
        }
    }
    for (count, body) in events {
        api.emit_bodies(count, 64, move |seq| body(seq)).await?;
    }
    if let Ok(api) = Arc::try_unwrap(api) {
        api.stop();
    }
    Ok(())
}

/// `count` events of drain's kind, one delivery each at the webhook that
/// takes `bench.drain`.
fn drain_events(count: usize) -> (usize, Body) {
    (
        count,
        Arc::new(|seq| json!({"type": "bench.drain", "payload": {"seq": seq}})),
    )
}

/// Starts a hookrelay with workers on `url` (the receiver's counts reset
/// first) and waits until `done` holds: the seconds that took, and the
/// process, still running.
async fn timed<F, Fut>(
    binary: &Path,
    url: &str,
    receiver: &Receiver,
    what: &str,
    done: F,
) -> BenchResult<(f64, Hookrelay)>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = BenchResult<bool>>,
{
    receiver.reset();
    let started = Instant::now();
    let h = Hookrelay::start(binary, url, &[]).await?;
    wait_until(what, Duration::from_secs(900), done).await?;
    Ok((started.elapsed().as_secs_f64(), h))
}

/// Deliveries/s draining `backlog` events spread over `keys` ordering keys
/// (`keys` = 1: one sequence) at the receiver's `path`.
pub async fn ordered(
    binary: &Path,
    server: &Postgres,
    receiver: &Receiver,
    backlog: usize,
    keys: usize,
    path: &str,
) -> BenchResult<f64> {
    let url = server.fresh().await?;
    let db = connect(&url).await?;
    backlog_of(
        binary,
        &url,
        &[json!({"url": format!("{}{path}", receiver.base), "event_types": ["bench.ordered"]})],
        vec![(
            backlog,
            Arc::new(move |seq| {
                json!({"type": "bench.ordered", "ordering_key": format!("k{}", seq % keys),
                       "payload": {"seq": seq}})
            }),
        )],
    )
    .await?;
    let (secs, h) = timed(
        binary,
        &url,
        receiver,
        "the ordered backlog to drain",
        || async { Ok(receiver.count_at(path) >= backlog && count_unfinished(&db).await? == 0) },
    )
    .await?;
    h.stop();
    Ok(backlog as f64 / secs)
}

/// The limited webhook's rate while the other drained, as a percentage of
/// its limit, and the other's deliveries/s.
pub async fn rate_limited_backlog(
    binary: &Path,
    server: &Postgres,
    receiver: &Receiver,
    limited: usize,
    backlog: usize,
) -> BenchResult<(f64, f64)> {
    const LIMIT: u32 = 1000;
    let url = server.fresh().await?;
    let base = receiver.base.clone();
    // The limited backlog first: it is the older, ahead of the other in the queue.
    backlog_of(
        binary,
        &url,
        &[
            json!({"url": format!("{base}/limited"), "event_types": ["bench.limited"],
                   "rate_limit": LIMIT}),
            json!({"url": format!("{base}/ok"), "event_types": ["bench.drain"]}),
        ],
        vec![
            (
                limited,
                Arc::new(|seq| json!({"type": "bench.limited", "payload": {"n": seq}})),
            ),
            drain_events(backlog),
        ],
    )
    .await?;
    // The limited one's rate is measured from its first second on: slots
    // start when the first claim meets it.
    let mut first: Option<(Instant, usize)> = None;
    let (secs, h) = timed(
        binary,
        &url,
        receiver,
        "the unlimited backlog to drain",
        || {
            let at = receiver.count_at("/limited");
            if first.is_none() && at > 0 {
                first = Some((Instant::now(), at));
            }
            let drained = receiver.count_at("/ok") >= backlog;
            async move { Ok(drained) }
        },
    )
    .await?;
    let drained = backlog as f64 / secs;
    let (since, sent_before) = first.ok_or("the limited webhook received nothing")?;
    let sent = receiver.count_at("/limited") - sent_before;
    let limited_rate = sent as f64 / since.elapsed().as_secs_f64();
    h.stop();
    Ok((limited_rate / f64::from(LIMIT) * 100.0, drained))
}

/// Deliveries/s of `backlog` at one webhook while `paused` deliveries are due
/// at another that its breaker has paused.
pub async fn paused_backlog(
    binary: &Path,
    server: &Postgres,
    receiver: &Receiver,
    paused: i64,
    backlog: usize,
) -> BenchResult<f64> {
    let url = server.fresh().await?;
    let db = connect(&url).await?;
    let base = receiver.base.clone();
    backlog_of(
        binary,
        &url,
        &[json!({"url": format!("{base}/paused"), "event_types": ["bench.paused"]})],
        vec![(
            1,
            Arc::new(|seq| json!({"type": "bench.paused", "payload": {"n": seq}})),
        )],
    )
    .await?;
    // A million more of that delivery, as the fan-out writes them, and the
    // webhook's breaker open for the hour.
    db.batch_execute(&format!(
        "INSERT INTO deliveries (id, webhook_id, event_id, tenant, created_at, next_retry_at)
         SELECT uuid_v7(), d.webhook_id, d.event_id, d.tenant, now(), now()
         FROM deliveries d, generate_series(2, {paused});
         UPDATE lanes SET failures = 5, trips = 1, paused_until = now() + interval '1 hour';"
    ))
    .await?;
    db.batch_execute("VACUUM ANALYZE deliveries").await?;
    backlog_of(
        binary,
        &url,
        &[json!({"url": format!("{base}/ok"), "event_types": ["bench.drain"]})],
        vec![drain_events(backlog)],
    )
    .await?;
    let (secs, h) = timed(
        binary,
        &url,
        receiver,
        "the backlog beside the paused one to drain",
        || async { Ok(receiver.count_at("/ok") >= backlog) },
    )
    .await?;
    let rate = backlog as f64 / secs;
    if receiver.count_at("/paused") > 0 {
        return Err("the paused webhook received deliveries".into());
    }
    h.stop();
    Ok(rate)
}
