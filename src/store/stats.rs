//! What the console's overview and webhook pages show about traffic and
//! health, and what `/metrics` reads of the queue. Each statement is bounded
//! by what it shows (the last hour, a page of webhooks, the queue's partial
//! indexes), never by the history behind it.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use tokio_postgres::types::Type;
use uuid::Uuid;

use super::{Client, Scope, StoreError};
use crate::sql;

/// Deliveries created in one minute, and how they have fared so far.
#[derive(Debug, Clone, Default)]
pub struct Minute {
    pub minute: DateTime<Utc>,
    pub deliveries: i64,
    pub succeeded: i64,
    pub failed: i64,
}

/// The minutes of the last hour that saw deliveries in `scope`, oldest first.
///
/// Run unnamed, so each execution is planned for its scope: a cached generic
/// plan, made for "a tenant or none", doubled the operator's overview on the
/// big table (the console bench: p50 49 ms before the tenant was a
/// parameter, 90 ms with it cached).
pub async fn last_hour(client: &Client, scope: Scope<'_>) -> Result<Vec<Minute>, StoreError> {
    Ok(client
        .query_typed(sql::CONSOLE_MINUTES, &[(&scope.param(), Type::TEXT)])
        .await?
        .iter()
        .map(|r| Minute {
            minute: r.get("minute"),
            deliveries: r.get("deliveries"),
            succeeded: r.get("succeeded"),
            failed: r.get("failed"),
        })
        .collect())
}

/// The queue right now.
#[derive(Debug, Clone, Default)]
pub struct Queue {
    /// Pending deliveries due now.
    pub due_now: f64,
    /// How long the oldest of them has waited, in seconds.
    pub oldest_due_age_seconds: f64,
    /// Deliveries by unfinished status (`success` is the planner's estimate).
    pub by_status: Vec<(String, f64)>,
}

/// The queue of `scope`: all of it (as /metrics reads it), or one tenant's.
pub async fn queue(client: &Client, scope: Scope<'_>) -> Result<Queue, StoreError> {
    if let Scope::Tenant(tenant) = scope {
        let stmt = client.prepare_cached(sql::CONSOLE_QUEUE_TENANT).await?;
        let row = client.query_one(&stmt, &[&tenant]).await?;
        return Ok(Queue {
            due_now: row.get("due_now"),
            oldest_due_age_seconds: row.get("oldest_due_age_seconds"),
            by_status: ["pending", "processing", "failed"]
                .into_iter()
                .map(|s| (s.to_owned(), row.get(s)))
                .collect(),
        });
    }
    let by_status = client
        .prepare_cached(sql::METRICS_DELIVERIES_BY_STATUS)
        .await?;
    let by_status = client
        .query(&by_status, &[])
        .await?
        .iter()
        .map(|r| (r.get("status"), r.get("deliveries")))
        .collect();
    let due = client.prepare_cached(sql::METRICS_QUEUE).await?;
    let row = client.query_one(&due, &[]).await?;
    Ok(Queue {
        due_now: row.get("due_now"),
        oldest_due_age_seconds: row.get("oldest_due_age_seconds"),
        by_status,
    })
}

/// A webhook's current run of failed attempts, as its row keeps it.
#[derive(Debug, Clone, Default)]
pub struct Failing {
    pub since: Option<DateTime<Utc>>,
    /// Counted up to 10, no further.
    pub attempts: i32,
    pub first_error: Option<String>,
    /// The circuit breaker paused it during this run.
    pub paused: bool,
}

/// A webhook failing right now, for the overview.
#[derive(Debug, Clone)]
pub struct FailingWebhook {
    pub id: Uuid,
    pub tenant: String,
    pub url: String,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub failing: Failing,
}

/// The webhooks of `scope` failing longest, at most `limit`.
pub async fn failing_webhooks(
    client: &Client,
    scope: Scope<'_>,
    limit: i64,
) -> Result<Vec<FailingWebhook>, StoreError> {
    let stmt = client.prepare_cached(sql::WEBHOOKS_FAILING).await?;
    Ok(client
        .query(&stmt, &[&limit, &scope.param()])
        .await?
        .iter()
        .map(|r| FailingWebhook {
            id: r.get("id"),
            tenant: r.get("tenant"),
            url: r.get("url"),
            enabled: r.get("enabled"),
            disabled_reason: r.get("disabled_reason"),
            failing: Failing {
                since: r.get("failing_since"),
                attempts: r.get("failing_attempts"),
                first_error: r.get("failing_first_error"),
                paused: r.get("failing_paused"),
            },
        })
        .collect())
}

/// How a webhook is doing: its last (at most 50) deliveries of the past hour,
/// and its current run of failures.
#[derive(Debug, Clone, Default)]
pub struct Health {
    pub recent: i64,
    pub succeeded: i64,
    pub failed: i64,
    pub p95_ms: Option<i32>,
    pub failing: Failing,
}

impl Health {
    /// Share of the finished recent deliveries that succeeded; `None` before any finished.
    pub fn success_rate(&self) -> Option<f64> {
        let finished = self.succeeded + self.failed;
        (finished > 0).then(|| self.succeeded as f64 / finished as f64)
    }
}

/// The health of each webhook of `ids` (ids of no webhook are left out).
/// Callers pass ids read in their scope.
pub async fn health(
    client: &Client,
    ids: &[Uuid],
    scope: Scope<'_>,
) -> Result<HashMap<Uuid, Health>, StoreError> {
    let stmt = client.prepare_cached(sql::WEBHOOK_HEALTH).await?;
    Ok(client
        .query(&stmt, &[&ids, &scope.param()])
        .await?
        .iter()
        .map(|r| {
            let health = Health {
                recent: r.get("recent"),
                succeeded: r.get("succeeded"),
                failed: r.get("failed"),
                p95_ms: r.get("p95_ms"),
                failing: Failing {
                    since: r.get("failing_since"),
                    attempts: r.get("failing_attempts"),
                    first_error: r.get("failing_first_error"),
                    paused: r.get("failing_paused"),
                },
            };
            (r.get("id"), health)
        })
        .collect())
}

/// The type of each event of `ids`, to label a list of deliveries.
pub async fn event_types_of(
    client: &Client,
    ids: &[Uuid],
    scope: Scope<'_>,
) -> Result<HashMap<Uuid, String>, StoreError> {
    let stmt = client.prepare_cached(sql::EVENT_TYPES_OF).await?;
    Ok(client
        .query(&stmt, &[&ids, &scope.param()])
        .await?
        .iter()
        .map(|r| (r.get("id"), r.get("type")))
        .collect())
}

/// The URL of each webhook of `ids`, to label a list of deliveries.
pub async fn webhook_urls_of(
    client: &Client,
    ids: &[Uuid],
    scope: Scope<'_>,
) -> Result<HashMap<Uuid, String>, StoreError> {
    let stmt = client.prepare_cached(sql::WEBHOOK_URLS_OF).await?;
    Ok(client
        .query(&stmt, &[&ids, &scope.param()])
        .await?
        .iter()
        .map(|r| (r.get("id"), r.get("url")))
        .collect())
}
