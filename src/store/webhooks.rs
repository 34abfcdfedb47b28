//! The webhooks table: registration, reads, changes, deletion and secrets.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::Row;
use uuid::Uuid;

use tokio_postgres::types::Type;

use super::sealing::Keys;
use super::{operational, retry_transient, transient, Client, Page, Pool, Scope, StoreError};
use crate::domain::{
    mask_headers, CustomHeaders, EventType, EventTypeFilter, Payload, Secret, TenantKey,
    WebhookUrl, MASKED,
};
use crate::sql;

/// A webhook as every read shows it: never with its secret.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
pub struct Webhook {
    pub id: Uuid,
    /// The tenant that owns the webhook; it gets that tenant's events only.
    pub tenant: String,
    #[schema(format = "uri")]
    pub url: String,
    pub event_types: Vec<String>,
    #[schema(required = true)]
    pub description: Option<String>,
    pub enabled: bool,
    /// Why hookrelay disabled this webhook by itself (auto-disable), or null:
    /// enabled, or disabled by a client. A PATCH of `enabled` clears it.
    #[schema(required = true)]
    pub disabled_reason: Option<String>,
    /// At most this many attempts per second, across every process; none: no limit.
    #[schema(required = true)]
    pub rate_limit: Option<i32>,
    /// At most this many attempts under way at once, across every process;
    /// null: HOOKRELAY_MAX_IN_FLIGHT_PER_WEBHOOK.
    #[schema(required = true)]
    pub max_in_flight: Option<i32>,
    /// Sent with every attempt: `{"name": "••••"}`, each value masked (they
    /// are credentials, usually); `GET /webhooks/{id}/headers` answers them.
    #[schema(value_type = crate::api::schema::Headers)]
    pub headers: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Webhook {
    fn from_row(row: &Row) -> Webhook {
        Webhook {
            id: row.get("id"),
            tenant: row.get("tenant"),
            url: row.get("url"),
            event_types: row.get("event_types"),
            description: row.get("description"),
            enabled: row.get("enabled"),
            disabled_reason: row.get("disabled_reason"),
            rate_limit: row.get("rate_limit"),
            max_in_flight: row.get("max_in_flight"),
            headers: mask_headers(row.get("headers")),
            created_at: row.get("created_at"),
            updated_at: row.get("updated_at"),
        }
    }
}

pub struct NewWebhook {
    pub tenant: TenantKey,
    pub url: WebhookUrl,
    pub event_types: EventTypeFilter,
    pub description: Option<String>,
    pub enabled: bool,
    pub secret: Secret,
    pub rate_limit: Option<i32>,
    pub max_in_flight: Option<i32>,
    pub headers: CustomHeaders,
}

/// What a PATCH changes; `None` keeps the field. `description: Some(None)` clears it,
/// and so does `rate_limit: Some(None)`.
#[derive(Default)]
pub struct WebhookChanges {
    pub url: Option<WebhookUrl>,
    pub event_types: Option<EventTypeFilter>,
    pub enabled: Option<bool>,
    pub description: Option<Option<String>>,
    pub rate_limit: Option<Option<i32>>,
    pub max_in_flight: Option<Option<i32>>,
    pub headers: Option<CustomHeaders>,
}

/// Registers a webhook; `None` when its tenant does not exist (or is being deleted).
/// Its secret and header values are stored sealed with `keys`.
pub async fn insert(
    client: &Client,
    new: NewWebhook,
    keys: &Keys,
) -> Result<Option<Webhook>, StoreError> {
    let stmt = client.prepare_cached(sql::WEBHOOK_INSERT).await?;
    let id = Uuid::now_v7();
    let headers = keys.seal_headers(id, &serde_json::json!(new.headers.as_map()), MASKED);
    let row = client
        .query_opt(
            &stmt,
            &[
                &id,
                &new.url.as_str(),
                &new.event_types.into_inner(),
                &new.description,
                &new.enabled,
                &keys.seal(id, new.secret.expose()),
                &new.rate_limit,
                &headers,
                &new.tenant.as_str(),
                &new.max_in_flight,
            ],
        )
        .await?;
    Ok(row.as_ref().map(Webhook::from_row))
}

pub async fn get(
    client: &Client,
    id: Uuid,
    scope: Scope<'_>,
) -> Result<Option<Webhook>, StoreError> {
    let stmt = client.prepare_cached(sql::WEBHOOK_GET).await?;
    Ok(client
        .query_opt(&stmt, &[&id, &scope.param()])
        .await?
        .as_ref()
        .map(Webhook::from_row))
}

/// One page of the webhooks in `scope`, planned for the scope it has (see
/// sql/webhook_list.sql).
pub async fn list(
    client: &Client,
    page: Page,
    scope: Scope<'_>,
) -> Result<Vec<Webhook>, StoreError> {
    let (before_time, before_id) = page.before();
    let rows = client
        .query_typed(
            sql::WEBHOOK_LIST,
            &[
                (&before_time, Type::TIMESTAMPTZ),
                (&before_id, Type::UUID),
                (&page.fetch(), Type::INT8),
                (&scope.param(), Type::TEXT),
            ],
        )
        .await?;
    Ok(rows.iter().map(Webhook::from_row).collect())
}

/// Applies a PATCH, holding or releasing pending deliveries in the same
/// transaction when `enabled` changes. Returns the webhook and its version,
/// which the caller announces to the workers before answering.
pub async fn update(
    client: &mut Client,
    id: Uuid,
    scope: Scope<'_>,
    changes: &WebhookChanges,
    keys: &Keys,
) -> Result<Option<(Webhook, i64)>, StoreError> {
    let mut tries = 0;
    loop {
        match update_once(client, id, scope, changes, keys).await {
            Err(e) if transient(&e, &mut tries).await => continue,
            done => return done,
        }
    }
}

async fn update_once(
    client: &mut Client,
    id: Uuid,
    scope: Scope<'_>,
    changes: &WebhookChanges,
    keys: &Keys,
) -> Result<Option<(Webhook, i64)>, StoreError> {
    let tx = client.transaction().await?;
    let stmt = tx.prepare_cached(sql::WEBHOOK_UPDATE).await?;
    let url = changes.url.as_ref().map(WebhookUrl::as_str);
    let event_types = changes.event_types.as_ref().map(EventTypeFilter::as_slice);
    let set_description = changes.description.is_some();
    let description = changes.description.clone().flatten();
    let set_rate_limit = changes.rate_limit.is_some();
    let rate_limit = changes.rate_limit.flatten();
    let set_max_in_flight = changes.max_in_flight.is_some();
    let max_in_flight = changes.max_in_flight.flatten();
    // A masked value stays as it is: the statement keeps the stored one for it.
    let headers = changes
        .headers
        .as_ref()
        .map(|h| keys.seal_headers(id, &serde_json::json!(h.as_map()), MASKED));
    let Some(row) = tx
        .query_opt(
            &stmt,
            &[
                &id,
                &url,
                &event_types,
                &changes.enabled,
                &set_description,
                &description,
                &set_rate_limit,
                &rate_limit,
                &headers,
                &scope.param(),
                &set_max_in_flight,
                &max_in_flight,
            ],
        )
        .await?
    else {
        return Ok(None);
    };
    // A masked value names a header to keep: there must be one to keep.
    if let Some(given) = &changes.headers {
        let stored: serde_json::Value = row.get("headers");
        if let Some(name) = given.kept().find(|n| stored.get(n).is_none()) {
            return Err(StoreError::Refused {
                field: "headers",
                detail: format!("the value of {name:?} is given masked, but the webhook has no header {name:?} to keep: give its value"),
            });
        }
    }
    if let Some(enabled) = changes.enabled {
        let hold = tx.prepare_cached(sql::WEBHOOK_HOLD).await?;
        tx.execute(&hold, &[&id, &!enabled]).await?;
    }
    tx.commit().await?;
    Ok(Some((Webhook::from_row(&row), row.get("version"))))
}

/// A webhook's custom headers with their values (`{}` when it has none);
/// `None` when there is no such webhook in `scope`.
pub async fn headers(
    client: &Client,
    id: Uuid,
    scope: Scope<'_>,
    keys: &Keys,
) -> Result<Option<serde_json::Value>, StoreError> {
    let stmt = client.prepare_cached(sql::WEBHOOK_HEADERS).await?;
    let Some(row) = client.query_opt(&stmt, &[&id, &scope.param()]).await? else {
        return Ok(None);
    };
    Ok(Some(keys.open_headers(id, &row.get("headers"))?))
}

/// Deletes a webhook: it becomes a tombstone, disabled, its unfinished
/// deliveries held, in one transaction whose cost is that of what is
/// unfinished. Returns the webhook's final version (to announce), or `None`
/// if there is no such webhook. Its rows are purged later
/// (`retention::purge_deleted_webhooks`).
pub async fn delete(
    client: &mut Client,
    id: Uuid,
    scope: Scope<'_>,
) -> Result<Option<i64>, StoreError> {
    let mut tries = 0;
    loop {
        match delete_once(client, id, scope).await {
            Err(e) if transient(&e, &mut tries).await => continue,
            done => return done,
        }
    }
}

async fn delete_once(
    client: &mut Client,
    id: Uuid,
    scope: Scope<'_>,
) -> Result<Option<i64>, StoreError> {
    let tx = client.transaction().await?;
    let stmt = tx.prepare_cached(sql::WEBHOOK_DELETE).await?;
    let Some(row) = tx.query_opt(&stmt, &[&id, &scope.param()]).await? else {
        return Ok(None);
    };
    let hold = tx.prepare_cached(sql::WEBHOOK_HOLD).await?;
    tx.execute(&hold, &[&id, &true]).await?;
    tx.commit().await?;
    Ok(Some(row.get("version")))
}

/// The longest auto-disable window the database is asked about (a longer one
/// would take `now()` past the start of its calendar).
const LONGEST_WINDOW: Duration = Duration::from_secs(1000 * 365 * 24 * 3600);

/// Disables, like `PATCH enabled=false`, every webhook whose attempts have all
/// failed for longer than `after`, at least `attempts` of them
/// (`queue::failing`), with its `disabled_reason` and its
/// `hookrelay.webhook.disabled` event. One transaction per webhook, so it
/// locks what PATCH locks, in the same order. Returns each webhook disabled
/// and its new version, to announce.
pub async fn auto_disable(
    client: &mut Client,
    after: Duration,
    attempts: i32,
) -> Result<Vec<(Uuid, i64)>, StoreError> {
    let after_ms = i64::try_from(after.min(LONGEST_WINDOW).as_millis()).unwrap_or(i64::MAX);
    let due = client.prepare_cached(sql::WEBHOOK_AUTO_DISABLE_DUE).await?;
    let ids: Vec<Uuid> = client
        .query(&due, &[&after_ms, &attempts])
        .await?
        .iter()
        .map(|r| r.get("id"))
        .collect();
    let window = humantime::format_duration(after).to_string();
    let mut disabled = Vec::new();
    for id in ids {
        let mut tries = 0;
        let version = loop {
            match auto_disable_one(client, id, after_ms, &window, attempts).await {
                Err(e) if transient(&e, &mut tries).await => continue,
                done => break done?,
            }
        };
        disabled.extend(version.map(|v| (id, v)));
    }
    Ok(disabled)
}

async fn auto_disable_one(
    client: &mut Client,
    id: Uuid,
    after_ms: i64,
    window: &str,
    attempts: i32,
) -> Result<Option<i64>, StoreError> {
    let tx = client.transaction().await?;
    let stmt = tx.prepare_cached(sql::WEBHOOK_AUTO_DISABLE).await?;
    let Some(row) = tx
        .query_opt(&stmt, &[&id, &after_ms, &window, &attempts])
        .await?
    else {
        return Ok(None);
    };
    let url: String = row.get("url");
    let tenant: String = row.get("tenant");
    let reason: String = row.get("disabled_reason");
    operational::webhook_disabled(&tx, &tenant, id, &url, &reason, row.get("failing_since"))
        .await?;
    let hold = tx.prepare_cached(sql::WEBHOOK_HOLD).await?;
    tx.execute(&hold, &[&id, &true]).await?;
    tx.commit().await?;
    Ok(Some(row.get("version")))
}

/// After a delete: waits (at most `within`) until no attempt to the webhook is
/// under way anywhere, so that nothing is sent once DELETE has returned. Takes
/// a pooled connection only for each short check.
pub async fn wait_until_idle(pool: &Pool, id: Uuid, within: Duration) -> Result<(), StoreError> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let n: i64 = {
            let client = pool.get().await?;
            let stmt = client.prepare_cached(sql::WEBHOOK_IN_FLIGHT).await?;
            client.query_one(&stmt, &[&id]).await?.get("in_flight")
        };
        if n == 0 || tokio::time::Instant::now() >= deadline {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub async fn secret(
    client: &Client,
    id: Uuid,
    scope: Scope<'_>,
    keys: &Keys,
) -> Result<Option<String>, StoreError> {
    let stmt = client.prepare_cached(sql::WEBHOOK_SECRET).await?;
    let Some(row) = client.query_opt(&stmt, &[&id, &scope.param()]).await? else {
        return Ok(None);
    };
    Ok(Some(keys.open(id, row.get::<_, &str>("secret"))?))
}

/// Requeues the webhook's failed deliveries (since `since`, if given); `None` when
/// the webhook does not exist.
pub async fn retry_failed(
    client: &Client,
    id: Uuid,
    scope: Scope<'_>,
    since: Option<DateTime<Utc>>,
) -> Result<Option<u64>, StoreError> {
    let stmt = client.prepare_cached(sql::WEBHOOK_RETRY_FAILED).await?;
    let (stmt, tenant) = (&stmt, scope.param());
    let row =
        retry_transient(|| async move { client.query_one(stmt, &[&id, &since, &tenant]).await })
            .await?;
    let found: i64 = row.get("found");
    let requeued: i64 = row.get("requeued");
    Ok((found > 0).then(|| u64::try_from(requeued).unwrap_or(0)))
}

/// Replaces the secret, keeping the old one for signing during 24 hours.
/// Returns the new secret and the webhook's version (to announce).
pub async fn rotate_secret(
    client: &Client,
    id: Uuid,
    scope: Scope<'_>,
    new: &Secret,
    keys: &Keys,
) -> Result<Option<(String, i64)>, StoreError> {
    let stmt = client.prepare_cached(sql::WEBHOOK_ROTATE_SECRET).await?;
    let sealed = keys.seal(id, new.expose());
    let (stmt, sealed, tenant) = (&stmt, &sealed, scope.param());
    Ok(
        retry_transient(|| async move { client.query_opt(stmt, &[&id, sealed, &tenant]).await })
            .await?
            .map(|r| (new.expose().to_owned(), r.get("version"))),
    )
}

/// What a test event came to.
pub enum TestEvent {
    /// Queued: the id of its one delivery.
    Queued(Uuid),
    NotFound,
    /// Nothing was written: a disabled webhook gets no new deliveries.
    Disabled,
}

/// Stores a test event and its one delivery, to this webhook alone, in one
/// transaction: the ordinary queue then sends it. Without a payload, the
/// statement makes one that says what it is: `{"test": true, "webhook_id": ...}`.
pub async fn send_test(
    client: &Client,
    id: Uuid,
    scope: Scope<'_>,
    event_type: &EventType,
    payload: Option<Payload<'_>>,
) -> Result<TestEvent, StoreError> {
    let stmt = client.prepare_cached(sql::WEBHOOK_TEST_EVENT).await?;
    let (stmt, event_id) = (&stmt, Uuid::now_v7());
    let event_type = event_type.as_str();
    let payload = payload.map(|p| p.raw().get());
    let tenant = scope.param();
    let row = retry_transient(|| async move {
        client
            .query_opt(stmt, &[&id, &event_id, &event_type, &payload, &tenant])
            .await
    })
    .await?;
    Ok(match row {
        None => TestEvent::NotFound,
        Some(row) => match row.get::<_, Option<Uuid>>("delivery_id") {
            Some(delivery) => TestEvent::Queued(delivery),
            None => TestEvent::Disabled,
        },
    })
}
