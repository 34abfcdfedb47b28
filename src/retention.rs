//! Retention: finished deliveries, their attempts, and events with nothing left
//! to deliver are deleted once older than `HOOKRELAY_RETENTION`.
//!
//! Deletes go in batches of a thousand rows, each its own short statement that
//! skips rows somebody else holds, so the sweep never takes long locks or gets
//! in the workers' way, and never touches anything pending or processing.
//! Every process sweeps; two sweeping at once just share the work.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::sql;
use crate::store::{Client, Pool, StoreError};

/// How often the sweeper looks for old rows.
const EVERY: Duration = Duration::from_secs(300);

/// Rows deleted by one sweep.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Swept {
    pub deliveries: u64,
    pub events: u64,
    pub idempotency_keys: u64,
}

/// Deletes everything older than `retention`, batch after batch, until done.
pub async fn sweep_once(client: &Client, retention: Duration) -> Result<Swept, StoreError> {
    let cutoff: DateTime<Utc> =
        Utc::now() - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
    Ok(Swept {
        deliveries: drain(client, sql::RETENTION_DELIVERIES, Some(cutoff)).await?,
        events: drain(client, sql::RETENTION_EVENTS, Some(cutoff)).await?,
        idempotency_keys: drain(client, sql::RETENTION_IDEMPOTENCY_KEYS, None).await?,
    })
}

async fn drain(
    client: &Client,
    statement: &str,
    cutoff: Option<DateTime<Utc>>,
) -> Result<u64, StoreError> {
    let stmt = client.prepare_cached(statement).await?;
    let mut total = 0;
    loop {
        let n = match &cutoff {
            Some(c) => client.execute(&stmt, &[c]).await?,
            None => client.execute(&stmt, &[]).await?,
        };
        total += n;
        if n < 1000 {
            return Ok(total);
        }
    }
}

/// Sweeps every few minutes until aborted.
pub fn spawn(pool: Pool, retention: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(EVERY).await;
            let swept = async {
                let client = pool.get().await?;
                sweep_once(&client, retention).await
            }
            .await;
            match swept {
                Ok(s) if s == Swept::default() => {}
                Ok(s) => tracing::info!(
                    deliveries = s.deliveries,
                    events = s.events,
                    idempotency_keys = s.idempotency_keys,
                    "retention sweep"
                ),
                Err(e) => tracing::warn!(error = %e, "retention sweep failed; will try again"),
            }
        }
    })
}
