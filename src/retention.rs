//! Retention: finished deliveries, their attempts, and events with nothing left
//! to deliver are deleted once older than `HOOKRELAY_RETENTION`.
//!
//! Deletes go in batches of a thousand rows, each its own short statement that
//! skips rows somebody else holds, so the sweep never takes long locks or gets
//! in the workers' way, and never touches anything pending or processing.
//! Every process sweeps; two sweeping at once just share the work. A sweep reads
//! a row it cannot delete yet (still pending, say) once, not once per batch:
//! each batch starts where the previous one stopped reading.
//!
//! It also removes what deleted webhooks left behind (`DELETE /webhooks/{id}`
//! only marks the webhook, so the request does not pay for its history; the
//! handler starts `purge_deleted_webhooks` at once, and this sweep finishes the
//! job if the process stopped first). Deleted tenants go the same way: their
//! webhooks' deliveries with the webhooks, then their events, then the tenant
//! row itself, its tokens with it; expired tenant tokens go too.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::sql;
use crate::store::{Client, Pool, StoreError};

/// How often the sweeper looks for old rows.
const EVERY: Duration = Duration::from_secs(300);

/// Rows one statement deletes at most (the statements say 1000 too).
const BATCH: u64 = 1000;

/// Rows deleted by one sweep.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Swept {
    pub deliveries: u64,
    pub events: u64,
    pub idempotency_keys: u64,
    pub tenant_tokens: u64,
}

/// Deletes everything older than `retention`, batch after batch, until done.
pub async fn sweep_once(client: &Client, retention: Duration) -> Result<Swept, StoreError> {
    let cutoff: DateTime<Utc> =
        Utc::now() - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
    let webhooks_purged = purge_deleted_webhooks(client).await?;
    let tenants_purged = purge_tenant_rows(client).await?;
    Ok(Swept {
        deliveries: walk(client, sql::RETENTION_DELIVERIES, cutoff).await? + webhooks_purged,
        events: walk(client, sql::RETENTION_EVENTS, cutoff).await? + tenants_purged,
        idempotency_keys: repeat(client, sql::RETENTION_IDEMPOTENCY_KEYS, &[]).await?,
        tenant_tokens: repeat(client, sql::RETENTION_TENANT_TOKENS, &[]).await?,
    })
}

/// Removes what deleted tenants left behind (`DELETE /tenants/{key}` only
/// marks the tenant and its webhooks): the webhooks' deliveries and the
/// webhooks, then the tenants' events in batches, then the tenant rows and
/// their tokens. Returns how many events went.
pub async fn purge_deleted_tenants(client: &Client) -> Result<u64, StoreError> {
    purge_deleted_webhooks(client).await?;
    purge_tenant_rows(client).await
}

/// The part of `purge_deleted_tenants` after the webhooks: events, then the
/// tenant rows. Returns how many events went. First it waits for the ingests
/// that checked a deleted tenant before its delete committed: their events
/// are then stored, for the purge to find (sql/tenant_purge_wait.sql).
async fn purge_tenant_rows(client: &Client) -> Result<u64, StoreError> {
    let wait = client.prepare_cached(sql::TENANT_PURGE_WAIT).await?;
    client.query(&wait, &[]).await?;
    let events = repeat(client, sql::TENANT_PURGE_EVENTS, &[]).await?;
    let stmt = client.prepare_cached(sql::TENANT_PURGE).await?;
    client.execute(&stmt, &[]).await?;
    Ok(events)
}

/// Removes what deleted webhooks left behind (`DELETE /webhooks/{id}` only
/// marks them): their deliveries in batches, then the webhooks themselves.
/// Returns how many deliveries went.
pub async fn purge_deleted_webhooks(client: &Client) -> Result<u64, StoreError> {
    let deliveries = repeat(client, sql::WEBHOOK_PURGE_DELIVERIES, &[]).await?;
    let stmt = client.prepare_cached(sql::WEBHOOK_PURGE).await?;
    client.execute(&stmt, &[]).await?;
    Ok(deliveries)
}

/// Runs a batch statement until it deletes less than a full batch.
async fn repeat(
    client: &Client,
    statement: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<u64, StoreError> {
    let stmt = client.prepare_cached(statement).await?;
    let mut total = 0;
    loop {
        let n = client.execute(&stmt, params).await?;
        total += n;
        if n < BATCH {
            return Ok(total);
        }
    }
}

/// Walks a table from its oldest row to `cutoff`, a batch at a time, each
/// batch starting where the last one stopped reading; returns rows deleted.
async fn walk(client: &Client, statement: &str, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
    let stmt = client.prepare_cached(statement).await?;
    // Before every row: a bound that is always there keeps the cursor an index
    // condition in the statement's cached generic plan.
    let mut after = (DateTime::<Utc>::UNIX_EPOCH, uuid::Uuid::nil());
    let mut total = 0;
    loop {
        let row = client
            .query_one(&stmt, &[&cutoff, &after.0, &after.1])
            .await?;
        let read: i64 = row.get("read");
        let deleted: i64 = row.get("deleted");
        total += u64::try_from(deleted).unwrap_or(0);
        if read < BATCH as i64 {
            return Ok(total);
        }
        after = (row.get("last_created_at"), row.get("last_id"));
    }
}

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
                    tenant_tokens = s.tenant_tokens,
                    "retention sweep"
                ),
                Err(e) => tracing::warn!(error = %e, "retention sweep failed; will try again"),
            }
        }
    })
}
