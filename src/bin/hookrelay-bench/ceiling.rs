//! The `ceiling` scenario: how many signed requests per second this machine
//! can send to the receiver with no hookrelay in between.
//!
//! Machines here are shared and noisy, so the throughput figures are also
//! given as a ratio to this one: a slow hour lowers the ceiling along with
//! hookrelay, and the ratio holds better than either figure.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hookrelay::delivery::sign;
use hookrelay::domain::Secret;
use serde_json::json;

use crate::receiver::Receiver;
use crate::support::BenchResult;

/// The machine's ceiling: 64 clients POST signed bodies straight to the receiver.
pub async fn ceiling(receiver: &Receiver, run_for: Duration) -> BenchResult<f64> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let done = Arc::new(AtomicUsize::new(0));
    let until = Instant::now() + run_for;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let (http, done, url) = (http.clone(), done.clone(), format!("{}/ok", receiver.base));
        tasks.push(tokio::spawn(async move {
            // Signed the way hookrelay signs, with its own code.
            let secret = Secret::generate();
            while Instant::now() < until {
                let body = serde_json::to_vec(&json!({"seq": u64::MAX, "pad": "ceiling"}))
                    .map_err(|e| e.to_string())?;
                let id = uuid::Uuid::new_v4().to_string();
                let ts = chrono::Utc::now().timestamp();
                http.post(&url)
                    .header("X-Webhook-Signature", sign::hex_signature(&secret, &body))
                    .header(
                        "webhook-signature",
                        sign::standard_signature(&[&secret], &id, ts, &body),
                    )
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                done.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<(), String>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    receiver.reset();
    Ok(done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
}
