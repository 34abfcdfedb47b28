//! The events table: ingest with fan-out, idempotency keys, and reads.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::value::RawValue;
use tokio_postgres::types::Type;
use tokio_postgres::Row;
use uuid::Uuid;

use super::ingest::{insert_events, Ingest, Inserted, Traces};
use super::{Client, Page, Pool, Scope, StoreError};
use crate::domain::{EventType, OrderingKey, Payload, TenantKey, TraceContext};
use crate::sql;

#[derive(utoipa::ToSchema, Debug, Serialize)]
pub struct Event {
    pub id: Uuid,
    /// The tenant the event was emitted for; it reached that tenant's webhooks only.
    pub tenant: String,
    #[serde(rename = "type")]
    pub event_type: String,
    /// The client's JSON text, byte for byte as given (key order, spacing,
    /// number text): what every delivery of the event carries.
    #[schema(value_type = serde_json::Value)]
    pub payload: Box<RawValue>,
    /// Events of one tenant that share it reach each webhook one at a time, in
    /// the order they were accepted.
    #[schema(required = true)]
    pub ordering_key: Option<String>,
    pub created_at: DateTime<Utc>,
    /// How many deliveries the event was fanned out to.
    pub deliveries: i64,
}

impl Event {
    fn from_row(row: &Row) -> Result<Event, StoreError> {
        let payload: String = row.get("payload");
        Ok(Event {
            id: row.get("id"),
            tenant: row.get("tenant"),
            event_type: row.get("type"),
            payload: RawValue::from_string(payload)
                .map_err(|e| StoreError::Inconsistent(format!("payload is not JSON: {e}")))?,
            ordering_key: row.get("ordering_key"),
            created_at: row.get("created_at"),
            deliveries: row.get("deliveries"),
        })
    }
}

pub enum Emitted {
    /// A new event, with its deliveries.
    Created(Event),
    /// The Idempotency-Key was seen in the last 24 hours (in this tenant): the original event.
    Repeated(Event),
    /// The tenant does not exist, or is being deleted: nothing was stored.
    NoTenant,
}

/// Stores an event and its deliveries, durably, in one transaction: with the
/// events of concurrent requests (`ingest.rs`), or in its own with a key
/// (keys are per tenant). `trace`: the context the event keeps, and passes on
/// to its receivers.
#[allow(clippy::too_many_arguments)]
pub async fn emit(
    ingest: &Ingest,
    pool: &Pool,
    tenant: &TenantKey,
    event_type: &EventType,
    payload: Payload<'_>,
    ordering_key: Option<&OrderingKey>,
    idempotency_key: Option<&str>,
    trace: Option<&TraceContext>,
) -> Result<Emitted, StoreError> {
    let ordering_key = ordering_key.map(OrderingKey::as_str);
    let payload = payload.raw();
    let id = Uuid::now_v7();
    // The new event as stored, for the answer.
    let created = |inserted: Inserted| Event {
        id,
        tenant: tenant.as_str().to_owned(),
        event_type: event_type.as_str().to_owned(),
        payload: payload.to_owned(),
        ordering_key: ordering_key.map(str::to_owned),
        created_at: inserted.created_at,
        deliveries: inserted.deliveries,
    };
    let Some(key) = idempotency_key else {
        let inserted = ingest
            .insert(
                id,
                tenant.as_str(),
                event_type.as_str(),
                payload.get(),
                ordering_key,
                trace,
            )
            .await?;
        return Ok(match inserted {
            Some(inserted) => Emitted::Created(created(inserted)),
            None => Emitted::NoTenant,
        });
    };
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let claim = tx.prepare_cached(sql::IDEMPOTENCY_CLAIM).await?;
    if tx
        .query_opt(&claim, &[&tenant.as_str(), &key, &id])
        .await?
        .is_some()
    {
        let mut inserted = insert_events(
            &tx,
            &[id],
            &[event_type.as_str()],
            &[payload.get()],
            &[tenant.as_str()],
            &[ordering_key],
            &Traces::of(std::iter::once(trace)),
        )
        .await?;
        // No tenant: the transaction rolls back, the key's claim with it.
        let Some(inserted) = inserted.remove(&id) else {
            return Ok(Emitted::NoTenant);
        };
        tx.commit().await?;
        return Ok(Emitted::Created(created(inserted)));
    }
    let lookup = tx.prepare_cached(sql::IDEMPOTENCY_LOOKUP).await?;
    let original: Uuid = tx
        .query_one(&lookup, &[&tenant.as_str(), &key])
        .await?
        .get("event_id");
    tx.commit().await?;
    let event = get(&client, original, Scope::Tenant(tenant.as_str()))
        .await?
        .ok_or_else(|| {
            StoreError::Inconsistent("an idempotency key names a missing event".into())
        })?;
    Ok(Emitted::Repeated(event))
}

pub async fn get(client: &Client, id: Uuid, scope: Scope<'_>) -> Result<Option<Event>, StoreError> {
    let stmt = client.prepare_cached(sql::EVENT_GET).await?;
    client
        .query_opt(&stmt, &[&id, &scope.param()])
        .await?
        .as_ref()
        .map(Event::from_row)
        .transpose()
}

pub async fn list(
    client: &Client,
    page: Page,
    scope: Scope<'_>,
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
                (&scope.param(), Type::TEXT),
            ],
        )
        .await?;
    rows.iter().map(Event::from_row).collect()
}
