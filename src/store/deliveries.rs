//! Reads of the deliveries table and the retries a client asks for. The queue's
//! own statements (claim, complete, rescue) live in `crate::queue`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::types::Type;
use tokio_postgres::Row;
use uuid::Uuid;

use super::{retry_transient, Client, Page, Scope, StoreError};
use crate::domain::mask_headers;
use crate::sql;

#[derive(utoipa::ToSchema, Debug, Serialize)]
pub struct Delivery {
    pub id: Uuid,
    /// The tenant of its event and webhook.
    pub tenant: String,
    pub webhook_id: Uuid,
    pub event_id: Uuid,
    #[schema(value_type = crate::api::schema::DeliveryStatus)]
    pub status: String,
    pub attempts: i32,
    #[schema(required = true)]
    pub next_retry_at: Option<DateTime<Utc>>,
    #[schema(required = true)]
    pub last_status_code: Option<i32>,
    #[schema(required = true)]
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[schema(required = true)]
    pub completed_at: Option<DateTime<Utc>>,
    /// Its event's ordering key, if it has one.
    #[schema(required = true)]
    pub ordering_key: Option<String>,
    /// What holds it while pending: null (due, or being sent), `retry`,
    /// `ordering`, `rate_limit`, `concurrency`, `paused` or `held`.
    #[schema(value_type = Option<crate::api::schema::WaitingFor>, required = true)]
    pub waiting_for: Option<String>,
    /// With `waiting_for: ordering`: the delivery ahead of it under its key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub behind: Option<Uuid>,
    /// With `waiting_for: paused`: when its webhook's breaker lets attempts through again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused_until: Option<DateTime<Utc>>,
}

impl Delivery {
    fn from_row(row: &Row) -> Delivery {
        let status: String = row.get("status");
        // next_retry_at means something only while the delivery waits for an attempt.
        let next_retry_at = (status == "pending").then(|| row.get("next_retry_at"));
        Delivery {
            id: row.get("id"),
            tenant: row.get("tenant"),
            webhook_id: row.get("webhook_id"),
            event_id: row.get("event_id"),
            status,
            attempts: row.get("attempts"),
            next_retry_at,
            last_status_code: row.get("last_status_code"),
            last_error: row.get("last_error"),
            created_at: row.get("created_at"),
            updated_at: row.get("updated_at"),
            completed_at: row.get("completed_at"),
            ordering_key: row.get("ordering_key"),
            waiting_for: row.get("waiting_for"),
            behind: row.get("behind"),
            paused_until: row.get("paused_until"),
        }
    }
}

#[derive(utoipa::ToSchema, Debug, Serialize)]
pub struct Attempt {
    pub attempt: i32,
    pub started_at: DateTime<Utc>,
    #[schema(required = true)]
    pub duration_ms: Option<i32>,
    #[schema(required = true)]
    pub status_code: Option<i32>,
    #[schema(required = true)]
    pub error: Option<String>,
    #[schema(required = true)]
    pub response_body: Option<String>,
    /// The webhook's custom headers sent with this attempt, each value masked
    /// (`"••••"`); null when it had none.
    #[schema(value_type = Option<crate::api::schema::Headers>, required = true)]
    pub request_headers: Option<serde_json::Value>,
}

/// Filters of `GET /deliveries`; `None` matches everything.
#[derive(Debug, Default)]
pub struct Filter {
    pub status: Option<String>,
    pub webhook_id: Option<Uuid>,
    pub event_id: Option<Uuid>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
    /// The type of the delivery's event.
    pub event_type: Option<String>,
}

pub async fn get(
    client: &Client,
    id: Uuid,
    scope: Scope<'_>,
) -> Result<Option<Delivery>, StoreError> {
    let stmt = client.prepare_cached(sql::DELIVERY_GET).await?;
    Ok(client
        .query_opt(&stmt, &[&id, &scope.param()])
        .await?
        .as_ref()
        .map(Delivery::from_row))
}

pub async fn attempts(
    client: &Client,
    id: Uuid,
    scope: Scope<'_>,
) -> Result<Vec<Attempt>, StoreError> {
    let stmt = client.prepare_cached(sql::DELIVERY_ATTEMPTS).await?;
    let rows = client.query(&stmt, &[&id, &scope.param()]).await?;
    Ok(rows
        .iter()
        .map(|r| Attempt {
            attempt: r.get("attempt"),
            started_at: r.get("started_at"),
            duration_ms: r.get("duration_ms"),
            status_code: r.get("status_code"),
            error: r.get("error"),
            response_body: r.get("response_body"),
            // Masked since migration 15 and as recorded since; masked again
            // here so no read can show a value whatever a row holds.
            request_headers: r
                .get::<_, Option<serde_json::Value>>("request_headers")
                .map(mask_headers),
        })
        .collect())
}

/// One page of the deliveries in `scope` that pass `filter`. A type filter
/// has a statement of its own (sql/delivery_list_by_type.sql); one tenant's
/// deliveries, unless a webhook or an event narrows them already, are read
/// through the tenant's webhooks (sql/delivery_list_by_tenant.sql).
pub async fn list(
    client: &Client,
    page: Page,
    scope: Scope<'_>,
    filter: &Filter,
) -> Result<Vec<Delivery>, StoreError> {
    let (before_time, before_id) = page.before();
    if let Some(event_type) = &filter.event_type {
        let rows = client
            .query_typed(
                sql::DELIVERY_LIST_BY_TYPE,
                &[
                    (&before_time, Type::TIMESTAMPTZ),
                    (&before_id, Type::UUID),
                    (&page.fetch(), Type::INT8),
                    (&filter.status, Type::TEXT),
                    (&filter.webhook_id, Type::UUID),
                    (&filter.event_id, Type::UUID),
                    (&filter.created_after, Type::TIMESTAMPTZ),
                    (&filter.created_before, Type::TIMESTAMPTZ),
                    (&scope.param(), Type::TEXT),
                    (event_type, Type::TEXT),
                ],
            )
            .await?;
        return Ok(rows.iter().map(Delivery::from_row).collect());
    }
    if let Scope::Tenant(tenant) = scope {
        if filter.webhook_id.is_none() && filter.event_id.is_none() {
            let rows = client
                .query_typed(
                    sql::DELIVERY_LIST_BY_TENANT,
                    &[
                        (&before_time, Type::TIMESTAMPTZ),
                        (&before_id, Type::UUID),
                        (&page.fetch(), Type::INT8),
                        (&filter.status, Type::TEXT),
                        (&filter.created_after, Type::TIMESTAMPTZ),
                        (&filter.created_before, Type::TIMESTAMPTZ),
                        (&tenant, Type::TEXT),
                    ],
                )
                .await?;
            return Ok(rows.iter().map(Delivery::from_row).collect());
        }
    }
    let rows = client
        .query_typed(
            sql::DELIVERY_LIST,
            &[
                (&before_time, Type::TIMESTAMPTZ),
                (&before_id, Type::UUID),
                (&page.fetch(), Type::INT8),
                (&filter.status, Type::TEXT),
                (&filter.webhook_id, Type::UUID),
                (&filter.event_id, Type::UUID),
                (&filter.created_after, Type::TIMESTAMPTZ),
                (&filter.created_before, Type::TIMESTAMPTZ),
                (&scope.param(), Type::TEXT),
            ],
        )
        .await?;
    Ok(rows.iter().map(Delivery::from_row).collect())
}

pub enum Retry {
    Requeued(Box<Delivery>),
    NotFound,
    /// The delivery is pending or processing: it is already on its way.
    Busy(String),
    /// Its webhook was deleted: there is nowhere to send it.
    WebhookDeleted,
}

/// Puts a finished delivery back in the queue, due now, with a fresh retry budget.
pub async fn retry(client: &Client, id: Uuid, scope: Scope<'_>) -> Result<Retry, StoreError> {
    let stmt = client.prepare_cached(sql::DELIVERY_RETRY).await?;
    let (stmt, tenant) = (&stmt, scope.param());
    if let Some(row) =
        retry_transient(|| async move { client.query_opt(stmt, &[&id, &tenant]).await }).await?
    {
        return Ok(Retry::Requeued(Box::new(Delivery::from_row(&row))));
    }
    Ok(match get(client, id, scope).await? {
        None => Retry::NotFound,
        Some(d) if d.status == "success" || d.status == "failed" => Retry::WebhookDeleted,
        Some(d) => Retry::Busy(d.status),
    })
}
