//! The webhooks table: registration, reads, changes, deletion and secrets.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::Row;
use uuid::Uuid;

use super::{Client, Page, StoreError};
use crate::domain::{EventTypeFilter, Secret, WebhookUrl};
use crate::sql;

/// A webhook as every read shows it: never with its secret.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
pub struct Webhook {
    pub id: Uuid,
    pub url: String,
    pub event_types: Vec<String>,
    pub description: Option<String>,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Webhook {
    fn from_row(row: &Row) -> Webhook {
        Webhook {
            id: row.get("id"),
            url: row.get("url"),
            event_types: row.get("event_types"),
            description: row.get("description"),
            enabled: row.get("enabled"),
            created_at: row.get("created_at"),
            updated_at: row.get("updated_at"),
        }
    }
}

pub struct NewWebhook {
    pub url: WebhookUrl,
    pub event_types: EventTypeFilter,
    pub description: Option<String>,
    pub enabled: bool,
    pub secret: Secret,
}

/// What a PATCH changes; `None` keeps the field. `description: Some(None)` clears it.
#[derive(Default)]
pub struct WebhookChanges {
    pub url: Option<WebhookUrl>,
    pub event_types: Option<EventTypeFilter>,
    pub enabled: Option<bool>,
    pub description: Option<Option<String>>,
}

pub async fn insert(client: &Client, new: NewWebhook) -> Result<Webhook, StoreError> {
    let stmt = client.prepare_cached(sql::WEBHOOK_INSERT).await?;
    let row = client
        .query_one(
            &stmt,
            &[
                &Uuid::now_v7(),
                &new.url.as_str(),
                &new.event_types.into_inner(),
                &new.description,
                &new.enabled,
                &new.secret.expose(),
            ],
        )
        .await?;
    Ok(Webhook::from_row(&row))
}

pub async fn get(client: &Client, id: Uuid) -> Result<Option<Webhook>, StoreError> {
    let stmt = client.prepare_cached(sql::WEBHOOK_GET).await?;
    Ok(client
        .query_opt(&stmt, &[&id])
        .await?
        .as_ref()
        .map(Webhook::from_row))
}

pub async fn list(client: &Client, page: Page) -> Result<Vec<Webhook>, StoreError> {
    let stmt = client.prepare_cached(sql::WEBHOOK_LIST).await?;
    let rows = client
        .query(
            &stmt,
            &[&page.after_time(), &page.after_id(), &page.fetch()],
        )
        .await?;
    Ok(rows.iter().map(Webhook::from_row).collect())
}

/// Applies a PATCH, holding or releasing pending deliveries in the same
/// transaction when `enabled` changes.
pub async fn update(
    client: &mut Client,
    id: Uuid,
    changes: WebhookChanges,
) -> Result<Option<Webhook>, StoreError> {
    let tx = client.transaction().await?;
    let stmt = tx.prepare_cached(sql::WEBHOOK_UPDATE).await?;
    let url = changes.url.as_ref().map(WebhookUrl::as_str);
    let event_types = changes.event_types.map(EventTypeFilter::into_inner);
    let set_description = changes.description.is_some();
    let description = changes.description.flatten();
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
            ],
        )
        .await?
    else {
        return Ok(None);
    };
    if let Some(enabled) = changes.enabled {
        let hold = tx.prepare_cached(sql::WEBHOOK_HOLD).await?;
        tx.execute(&hold, &[&id, &!enabled]).await?;
    }
    tx.commit().await?;
    Ok(Some(Webhook::from_row(&row)))
}

/// Deletes a webhook so that nothing is sent to it once this returns: first it is
/// disabled (no new claims), then this waits for claims already taken to be sent
/// or handed back (at most `in_flight_wait`, one lease), then the row and its
/// deliveries go.
pub async fn delete(
    client: &mut Client,
    id: Uuid,
    in_flight_wait: Duration,
) -> Result<bool, StoreError> {
    let changes = WebhookChanges {
        enabled: Some(false),
        ..WebhookChanges::default()
    };
    if update(client, id, changes).await?.is_none() {
        return Ok(false);
    }
    let in_flight = client.prepare_cached(sql::WEBHOOK_IN_FLIGHT).await?;
    let deadline = tokio::time::Instant::now() + in_flight_wait;
    while tokio::time::Instant::now() < deadline {
        let n: i64 = client.query_one(&in_flight, &[&id]).await?.get("in_flight");
        if n == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stmt = client.prepare_cached(sql::WEBHOOK_DELETE).await?;
    Ok(client.execute(&stmt, &[&id]).await? > 0)
}

pub async fn secret(client: &Client, id: Uuid) -> Result<Option<String>, StoreError> {
    let stmt = client.prepare_cached(sql::WEBHOOK_SECRET).await?;
    Ok(client
        .query_opt(&stmt, &[&id])
        .await?
        .map(|r| r.get("secret")))
}

/// Requeues the webhook's failed deliveries (since `since`, if given); `None` when
/// the webhook does not exist.
pub async fn retry_failed(
    client: &Client,
    id: Uuid,
    since: Option<DateTime<Utc>>,
) -> Result<Option<u64>, StoreError> {
    if get(client, id).await?.is_none() {
        return Ok(None);
    }
    let stmt = client.prepare_cached(sql::WEBHOOK_RETRY_FAILED).await?;
    Ok(Some(client.execute(&stmt, &[&id, &since]).await?))
}

/// Replaces the secret, keeping the old one for signing during 24 hours.
pub async fn rotate_secret(
    client: &Client,
    id: Uuid,
    new: &Secret,
) -> Result<Option<String>, StoreError> {
    let stmt = client.prepare_cached(sql::WEBHOOK_ROTATE_SECRET).await?;
    Ok(client
        .query_opt(&stmt, &[&id, &new.expose()])
        .await?
        .map(|r| r.get("secret")))
}
