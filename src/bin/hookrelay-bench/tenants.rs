//! The `tenants` and `tenant-backlog` scenarios: hookrelay with thousands of
//! tenants, and with one tenant's slow endpoints beside another's traffic.
//!
//! `tenants` is `ingest` and `drain` again, one delivery per event as there,
//! so that what it adds to their cost is the tenants alone. `tenant-backlog`
//! is for the promise that one customer's backlog does not hold up the others.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::hookrelay::Hookrelay;
use crate::postgres::{connect, count_unfinished, settle, Postgres};
use crate::receiver::Receiver;
use crate::steady::latency_at;
use crate::support::{concurrently, wait_until, BenchResult};
use crate::Plan;

/// `plan.tenants` tenants with two webhooks each, events spread evenly over
/// them: the events/s accepted, then the deliveries/s of draining a backlog of
/// `plan.backlog`. The two webhooks of a tenant take different types and
/// events alternate between them, so each event makes one delivery, as in
/// `ingest` and `drain`: what differs is only the number of tenants and webhooks.
pub async fn tenants(
    binary: &Path,
    server: &Postgres,
    receiver: &Receiver,
    plan: &Plan,
) -> BenchResult<(f64, f64)> {
    let url = server.fresh().await?;
    let db = connect(&url).await?;
    let count = plan.tenants;
    let ingested = {
        let api = Arc::new(Hookrelay::start(binary, &url, &[("HOOKRELAY_WORKERS", "0")]).await?);
        let target = format!("{}/ok", receiver.base);
        concurrently(count, 64, {
            let api = api.clone();
            move |i| {
                let (api, target) = (api.clone(), target.clone());
                async move {
                    let key = format!("t{i:05}");
                    let (status, body) = api.put(&format!("/tenants/{key}"), &json!({})).await?;
                    if status != 201 {
                        return Err(format!("PUT /tenants/{key} answered {status}: {body}").into());
                    }
                    for event_type in ["bench.tenant.a", "bench.tenant.b"] {
                        let webhook =
                            json!({"url": target, "event_types": [event_type], "tenant": key});
                        let (status, body) = api.post("/webhooks", &webhook).await?;
                        if status != 201 {
                            return Err(
                                format!("creating a webhook answered {status}: {body}").into()
                            );
                        }
                    }
                    Ok(())
                }
            }
        })
        .await?;
        let body = move |seq: usize| {
            let kind = if (seq / count).is_multiple_of(2) {
                "a"
            } else {
                "b"
            };
            json!({"type": format!("bench.tenant.{kind}"), "tenant": format!("t{:05}", seq % count),
                   "payload": {"seq": seq}})
        };
        settle(&url).await;
        let started = Instant::now();
        api.emit_bodies(plan.ingest_events, 64, body).await?;
        let ingested = plan.ingest_events as f64 / started.elapsed().as_secs_f64();
        // The rest of the backlog, made the same way.
        let rest = plan.backlog.saturating_sub(plan.ingest_events);
        let offset = plan.ingest_events;
        api.emit_bodies(rest, 64, move |seq| body(seq + offset))
            .await?;
        if let Ok(api) = Arc::try_unwrap(api) {
            api.stop();
        }
        ingested
    };
    let backlog = plan.backlog.max(plan.ingest_events);
    receiver.reset();
    let started = Instant::now();
    let h = Hookrelay::start(binary, &url, &[]).await?;
    wait_until(
        "the tenants' backlog to drain",
        Duration::from_secs(600),
        || async { Ok(receiver.count() >= backlog && count_unfinished(&db).await? == 0) },
    )
    .await?;
    let drained = backlog as f64 / started.elapsed().as_secs_f64();
    h.stop();
    Ok((ingested, drained))
}

/// A tenant whose 50 webhooks all have a backlog at a receiver that takes a
/// quarter of a second per delivery, and another tenant's events at 100/s
/// meanwhile: their latency percentiles, to set beside `steady 100/s`, and the
/// rate accepted. One customer's slow endpoints should not slow the others.
pub async fn tenant_backlog(
    binary: &Path,
    server: &Postgres,
    receiver: &Receiver,
    secs: u64,
) -> BenchResult<((f64, f64, f64), f64)> {
    let url = server.fresh().await?;
    let h = Arc::new(Hookrelay::start(binary, &url, &[]).await?);
    for key in ["busy", "calm"] {
        let (status, body) = h.put(&format!("/tenants/{key}"), &json!({})).await?;
        if status != 201 {
            return Err(format!("PUT /tenants/{key} answered {status}: {body}").into());
        }
    }
    for _ in 0..50 {
        let webhook = json!({"url": format!("{}/slow", receiver.base),
                             "event_types": ["bench.busy"], "tenant": "busy"});
        let (status, body) = h.post("/webhooks", &webhook).await?;
        if status != 201 {
            return Err(format!("creating a webhook answered {status}: {body}").into());
        }
    }
    let webhook = json!({"url": format!("{}/ok", receiver.base),
                         "event_types": ["bench.calm"], "tenant": "calm"});
    let (status, body) = h.post("/webhooks", &webhook).await?;
    if status != 201 {
        return Err(format!("creating a webhook answered {status}: {body}").into());
    }
    // 200 events for 50 webhooks: 10,000 deliveries, far more than the
    // workers can send in the measured window at a quarter second each.
    h.emit_bodies(
        200,
        8,
        |_| json!({"type": "bench.busy", "tenant": "busy", "payload": {"backlog": true}}),
    )
    .await?;
    latency_at(
        &h,
        receiver,
        100,
        secs,
        0,
        |seq| json!({"type": "bench.calm", "tenant": "calm", "payload": {"seq": seq}}),
    )
    .await
}
