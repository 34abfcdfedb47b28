//! The `drain` and `big-table` scenarios: deliveries per second as the workers
//! empty a backlog, on a fresh database or on one that already holds millions
//! of finished deliveries.
//!
//! A hookrelay with no workers makes the backlog through the API and a second
//! one drains it, so that the measured window holds delivery alone. The big
//! table is written once per run, with SQL, far faster than through the API,
//! and `console` reads the same database.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::hookrelay::Hookrelay;
use crate::postgres::{connect, count_unfinished, Postgres};
use crate::receiver::Receiver;
use crate::support::{wait_until, BenchResult};

/// Deliveries/s draining a backlog made through the API by a process with no
/// workers; with `completed_rows` finished deliveries in the table first.
pub async fn drain(
    binary: &Path,
    server: &Postgres,
    receiver: &Receiver,
    backlog: usize,
) -> BenchResult<(f64, f64)> {
    drain_on(binary, &server.fresh().await?, receiver, backlog).await
}

/// `drain` on a given database, which may already hold history.
pub async fn drain_on(
    binary: &Path,
    url: &str,
    receiver: &Receiver,
    backlog: usize,
) -> BenchResult<(f64, f64)> {
    let db = connect(url).await?;
    // A type of its own, so the webhooks of earlier repeats on this database do
    // not receive this backlog too.
    let event_type = format!("bench.drain.{}", uuid::Uuid::new_v4().simple());
    {
        let api = Arc::new(Hookrelay::start(binary, url, &[("HOOKRELAY_WORKERS", "0")]).await?);
        api.webhook(&format!("{}/ok", receiver.base), &[&event_type])
            .await?;
        api.emit_many(&event_type, backlog, 64).await?;
        if let Ok(api) = Arc::try_unwrap(api) {
            api.stop();
        }
    }
    receiver.reset();
    let started = Instant::now();
    let h = Hookrelay::start(binary, url, &[]).await?;
    wait_until("the backlog to drain", Duration::from_secs(600), || async {
        Ok(receiver.count() >= backlog && count_unfinished(&db).await? == 0)
    })
    .await?;
    let rate = backlog as f64 / started.elapsed().as_secs_f64();
    let rss = h.peak_rss_mib();
    h.stop();
    Ok((rate, rss))
}

/// The database of big-table and console: migrated and filled on first use.
pub async fn big_table(
    binary: &Path,
    server: &Postgres,
    rows: i64,
    big: &mut Option<String>,
) -> BenchResult<String> {
    if let Some(url) = big {
        return Ok(url.clone());
    }
    let url = server.fresh().await?;
    let migrated = Command::new(binary)
        .arg("migrate")
        .env("DATABASE_URL", &url)
        .env("RUST_LOG", "error")
        .status()?;
    if !migrated.success() {
        return Err("hookrelay migrate failed".into());
    }
    fill_completed(&connect(&url).await?, rows).await?;
    *big = Some(url.clone());
    Ok(url)
}

/// Finished deliveries, as months of history would leave them, in tenant
/// `bench` (the console scenario opens its portal).
async fn fill_completed(db: &tokio_postgres::Client, rows: i64) -> BenchResult<()> {
    db.batch_execute(&format!(
        "INSERT INTO tenants (key, name) VALUES ('bench', 'The big table''s tenant');
         INSERT INTO webhooks (id, url, event_types, secret, tenant) VALUES ('00000000-0000-0000-0000-000000000001', 'https://example.com/old', '{{old}}', 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'bench');
         INSERT INTO events (id, type, payload, tenant) VALUES ('00000000-0000-0000-0000-000000000002', 'old', '{{}}', 'bench');
         INSERT INTO deliveries (id, webhook_id, event_id, status, attempts, completed_at, last_status_code, created_at, tenant)
         SELECT uuid_v7(), '00000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-000000000002',
                'success', 1, now() - interval '1 day', 200, now() - interval '1 day' - n * interval '1 ms', 'bench'
         FROM generate_series(1, {rows}) n;"
    ))
    .await?;
    db.batch_execute("VACUUM ANALYZE deliveries").await?;
    Ok(())
}
