//! The event_types table: the operator's catalog of event types.
//!
//! Ingest does not read it through here on every event: `crate::catalog`
//! caches what it finds, and a trigger announces every change to that cache.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use tokio_postgres::Row;

use super::{Client, Page, StoreError};
use crate::domain::{EventSchema, EventType};
use crate::sql;

/// A catalog entry, as every read shows it.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
#[schema(as = EventType)]
pub struct EventTypeEntry {
    pub name: String,
    #[schema(required = true)]
    pub description: Option<String>,
    /// A JSON Schema (2020-12) every payload of this type must satisfy; null: any payload.
    #[schema(required = true)]
    pub schema: Option<Value>,
    /// No longer sent: refused, with HOOKRELAY_REQUIRE_EVENT_TYPES, in events and new subscriptions.
    pub archived: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl EventTypeEntry {
    fn from_row(row: &Row) -> EventTypeEntry {
        EventTypeEntry {
            name: row.get("name"),
            description: row.get("description"),
            schema: row.get("schema"),
            archived: row.get("archived"),
            created_at: row.get("created_at"),
            updated_at: row.get("updated_at"),
        }
    }
}

/// What a PUT sets: `None` keeps the field (or takes its default, for a new
/// entry); `Some(None)` clears it.
#[derive(Default)]
pub struct EventTypeChanges {
    pub description: Option<Option<String>>,
    pub schema: Option<Option<EventSchema>>,
    pub archived: Option<bool>,
}

/// Creates or changes an entry; true when it was created.
pub async fn put(
    client: &Client,
    name: &EventType,
    changes: &EventTypeChanges,
) -> Result<(EventTypeEntry, bool), StoreError> {
    let stmt = client.prepare_cached(sql::EVENT_TYPE_PUT).await?;
    let description = changes.description.clone().flatten();
    let schema = changes
        .schema
        .as_ref()
        .and_then(|s| s.as_ref().map(EventSchema::source));
    let row = client
        .query_one(
            &stmt,
            &[
                &name.as_str(),
                &changes.description.is_some(),
                &description,
                &changes.schema.is_some(),
                &schema,
                &changes.archived,
            ],
        )
        .await?;
    Ok((EventTypeEntry::from_row(&row), row.get("created")))
}

pub async fn get(client: &Client, name: &str) -> Result<Option<EventTypeEntry>, StoreError> {
    let stmt = client.prepare_cached(sql::EVENT_TYPE_GET).await?;
    Ok(client
        .query_opt(&stmt, &[&name])
        .await?
        .as_ref()
        .map(EventTypeEntry::from_row))
}

pub async fn list(client: &Client, page: &Page<String>) -> Result<Vec<EventTypeEntry>, StoreError> {
    let stmt = client.prepare_cached(sql::EVENT_TYPE_LIST).await?;
    let (before_time, before_name) = page.before();
    let rows = client
        .query(&stmt, &[&before_time, &before_name, &page.fetch()])
        .await?;
    Ok(rows.iter().map(EventTypeEntry::from_row).collect())
}

/// Removes an entry; false when there was none.
pub async fn delete(client: &Client, name: &str) -> Result<bool, StoreError> {
    let stmt = client.prepare_cached(sql::EVENT_TYPE_DELETE).await?;
    Ok(client.query_opt(&stmt, &[&name]).await?.is_some())
}
