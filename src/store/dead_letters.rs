//! Dead letters by webhook, for the console: which webhooks have failed
//! deliveries, how many, and the newest. Requeueing them is
//! `webhooks::retry_failed`, the same as `POST /webhooks/{id}/retry-failed`.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Client, Scope, StoreError};
use crate::sql;

/// Failed deliveries are counted up to this, no further.
pub const COUNTED_UP_TO: i64 = 1000;

#[derive(Debug, Clone)]
pub struct DeadLetters {
    pub webhook_id: Uuid,
    pub tenant: String,
    pub url: String,
    pub enabled: bool,
    /// Up to `COUNTED_UP_TO`.
    pub failed: i64,
    pub newest_id: Uuid,
    pub newest_at: DateTime<Utc>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
}

/// Webhooks of `scope` with dead letters, by id after `after`, at most
/// `limit` of them.
pub async fn by_webhook(
    client: &Client,
    scope: Scope<'_>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<DeadLetters>, StoreError> {
    let after = after.unwrap_or(Uuid::nil());
    let rows = match scope {
        Scope::Any => {
            let stmt = client.prepare_cached(sql::DEAD_LETTER_GROUPS).await?;
            client.query(&stmt, &[&after, &limit]).await?
        }
        Scope::Tenant(tenant) => {
            let stmt = client
                .prepare_cached(sql::DEAD_LETTER_GROUPS_TENANT)
                .await?;
            client.query(&stmt, &[&after, &limit, &tenant]).await?
        }
    };
    Ok(rows
        .iter()
        .map(|r| DeadLetters {
            webhook_id: r.get("webhook_id"),
            tenant: r.get("tenant"),
            url: r.get("url"),
            enabled: r.get("enabled"),
            failed: r.get("failed"),
            newest_id: r.get("newest_id"),
            newest_at: r.get("newest_at"),
            last_status_code: r.get("last_status_code"),
            last_error: r.get("last_error"),
        })
        .collect())
}
