//! The events table: ingest with fan-out, idempotency keys, and reads.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::value::RawValue;
use tokio_postgres::types::Type;
use tokio_postgres::Row;
use uuid::Uuid;

use super::ingest::{insert_events, Ingest, Inserted};
use super::{Client, Page, Pool, StoreError};
use crate::domain::{EventType, Payload};
use crate::sql;

#[derive(utoipa::ToSchema, Debug, Serialize)]
pub struct Event {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub event_type: String,
    #[schema(value_type = serde_json::Value)]
    pub payload: Box<RawValue>,
    pub created_at: DateTime<Utc>,
    /// How many deliveries the event was fanned out to.
    pub deliveries: i64,
}

impl Event {
    fn from_row(row: &Row) -> Result<Event, StoreError> {
        let payload: String = row.get("payload");
        Ok(Event {
            id: row.get("id"),
            event_type: row.get("type"),
            payload: RawValue::from_string(payload)
                .map_err(|e| StoreError::Inconsistent(format!("payload is not JSON: {e}")))?,
            created_at: row.get("created_at"),
            deliveries: row.get("deliveries"),
        })
    }
}

pub enum Emitted {
    /// A new event, with its deliveries.
    Created(Event),
    /// The Idempotency-Key was seen in the last 24 hours: the original event.
    Repeated(Event),
}

/// Stores an event and its deliveries, durably, in one transaction: with the
/// events of concurrent requests (`ingest.rs`), or in its own with a key.
pub async fn emit(
    ingest: &Ingest,
    pool: &Pool,
    event_type: &EventType,
    payload: Payload<'_>,
    idempotency_key: Option<&str>,
) -> Result<Emitted, StoreError> {
    let payload = payload.raw();
    let id = Uuid::now_v7();
    let Some(key) = idempotency_key else {
        let inserted = ingest
            .insert(id, event_type.as_str(), payload.get())
            .await?;
        return Ok(Emitted::Created(created(id, event_type, payload, inserted)));
    };
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let claim = tx.prepare_cached(sql::IDEMPOTENCY_CLAIM).await?;
    if tx.query_opt(&claim, &[&key, &id]).await?.is_some() {
        let mut inserted =
            insert_events(&tx, &[id], &[event_type.as_str()], &[payload.get()]).await?;
        tx.commit().await?;
        let inserted = inserted
            .remove(&id)
            .ok_or_else(|| StoreError::Inconsistent(format!("event {id} was not inserted")))?;
        return Ok(Emitted::Created(created(id, event_type, payload, inserted)));
    }
    let lookup = tx.prepare_cached(sql::IDEMPOTENCY_LOOKUP).await?;
    let original: Uuid = tx.query_one(&lookup, &[&key]).await?.get("event_id");
    tx.commit().await?;
    let event = get(&client, original).await?.ok_or_else(|| {
        StoreError::Inconsistent("an idempotency key names a missing event".into())
    })?;
    Ok(Emitted::Repeated(event))
}

fn created(id: Uuid, event_type: &EventType, payload: &RawValue, inserted: Inserted) -> Event {
    Event {
        id,
        event_type: event_type.as_str().to_owned(),
        payload: payload.to_owned(),
        created_at: inserted.created_at,
        deliveries: inserted.deliveries,
    }
}

pub async fn get(client: &Client, id: Uuid) -> Result<Option<Event>, StoreError> {
    let stmt = client.prepare_cached(sql::EVENT_GET).await?;
    client
        .query_opt(&stmt, &[&id])
        .await?
        .as_ref()
        .map(Event::from_row)
        .transpose()
}

pub async fn list(
    client: &Client,
    page: Page,
    event_type: Option<&str>,
) -> Result<Vec<Event>, StoreError> {
    let (before_time, before_id) = page.before();
    let rows = client
        .query_typed(
            sql::EVENT_LIST,
            &[
                (&before_time, Type::TIMESTAMPTZ),
                (&before_id, Type::UUID),
                (&page.fetch(), Type::INT8),
                (&event_type, Type::TEXT),
            ],
        )
        .await?;
    rows.iter().map(Event::from_row).collect()
}
