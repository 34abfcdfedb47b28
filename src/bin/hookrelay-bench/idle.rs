//! The `idle` scenario: the CPU share and the queries per second of a
//! hookrelay with nothing to deliver.
//!
//! Most of a webhook service's hours are quiet ones; what it costs the machine
//! and the database then is paid all day, whatever the throughput figures say.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::hookrelay::Hookrelay;
use crate::postgres::{connect, Postgres};
use crate::support::BenchResult;

/// CPU share and queries per second of a hookrelay with nothing to do.
pub async fn idle(binary: &Path, server: &Postgres, run_for: Duration) -> BenchResult<(f64, f64)> {
    let url = server.fresh().await?;
    let db = connect(&url).await?;
    let h = Hookrelay::start(binary, &url, &[]).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let commits = || async {
        let row = db
            .query_one("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()", &[])
            .await?;
        Ok::<i64, tokio_postgres::Error>(row.get(0))
    };
    let (ticks, xacts, started) = (h.cpu_ticks(), commits().await?, Instant::now());
    tokio::time::sleep(run_for).await;
    let secs = started.elapsed().as_secs_f64();
    // pg_stat counters are flushed by backends about once a second: ask twice.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let cpu = (h.cpu_ticks() - ticks) as f64 / 100.0 / secs * 100.0;
    // Our own two counter queries count too; leave them out.
    let qps = ((commits().await? - xacts - 2).max(0) as f64) / (secs + 1.1);
    Ok((cpu, qps))
}
