//! `/event-types`: the operator's catalog of event types, and what it imposes
//! on events and subscriptions.
//!
//! A change is announced to the process's catalog cache before the answer
//! goes out, so the next event in this process already sees it (other
//! processes hear it by NOTIFY: `crate::catalog`). The checks POST /events and
//! the webhook routes make (`admit_event`, `require_listed`) live here, beside
//! the catalog they apply. The catalog is the operator's: tenant tokens may
//! read it (so a portal can offer its types), not change it.

use actix_web::web::{Data, Path, Payload};
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::auth::Operator;
use super::body::{parse, read_json_body};
use super::pagination::{Paginated, Query};
use super::problem::Problem;
use super::webhooks::present;
use super::{ApiError, AppState};
use crate::catalog::Rules;
use crate::domain::{parse_description, EventSchema, EventType, EventTypeFilter, RESERVED_PREFIX};
use crate::store::event_types::{self, EventTypeChanges, EventTypeEntry};
use crate::store::StoreError;

#[derive(utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutEventType {
    /// Absent: unchanged (none, for a new type); null: cleared.
    #[serde(default, deserialize_with = "present")]
    description: Option<Option<String>>,
    /// A JSON Schema (2020-12) for the payloads. Absent: unchanged (none, for a new type); null: cleared.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<serde_json::Value>)]
    schema: Option<Option<Value>>,
    /// Absent: unchanged (false, for a new type).
    archived: Option<bool>,
}

/// A path's `{type}` that is not an event type names nothing: 404.
fn named(raw: &str) -> Result<EventType, ApiError> {
    EventType::parse(raw).map_err(|_| not_found(raw))
}

fn not_found(raw: &str) -> ApiError {
    let shown: String = raw.chars().take(128).collect();
    ApiError::NotFound(format!("no event type {shown:?} in the catalog"))
}

#[utoipa::path(
    put,
    path = "/event-types/{type}",
    operation_id = "put_event_type",
    tag = "event types",
    summary = "Add an event type to the catalog, or change it; fields left out keep their values",
    params(("type" = String, Path, description = "The event type: 1-128 characters of A-Z a-z 0-9 . _ : -")),
    request_body = PutEventType,
    responses((status = 201, description = "Added", body = EventTypeEntry), (status = 200, description = "Changed", body = EventTypeEntry), (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"), (status = 413, description = "Body over HOOKRELAY_MAX_PAYLOAD", body = Problem, content_type = "application/problem+json"), (status = 415, description = "Not application/json", body = Problem, content_type = "application/problem+json"), (status = 422, description = "Invalid field (type, description, schema), named in detail", body = Problem, content_type = "application/problem+json"), (status = 403, description = "A tenant token: the catalog is the operator's", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"), (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"))
)]
pub async fn put(
    state: Data<AppState>,
    _: Operator,
    name: Path<String>,
    req: HttpRequest,
    payload: Payload,
) -> Result<HttpResponse, ApiError> {
    // hookrelay's own types are not the operator's to describe.
    let name = EventType::parse_emitted(&name).map_err(|e| ApiError::invalid("type", e))?;
    let body = read_json_body(&req, payload, state.config.max_payload).await?;
    let input: PutEventType = parse(&body)?;
    let changes = EventTypeChanges {
        description: input
            .description
            .map(|d| d.as_deref().map(parse_description).transpose())
            .transpose()
            .map_err(|e| ApiError::invalid("description", e))?,
        schema: input
            .schema
            .map(|s| s.map(EventSchema::parse).transpose())
            .transpose()
            .map_err(|e| ApiError::invalid("schema", e))?,
        archived: input.archived,
    };
    let (entry, created) = event_types::put(&state.db().await?, &name, &changes)
        .await
        .map_err(schema_refused)?;
    // Before answering: the next event of this type, in this process, sees the change.
    state.catalog.forget(name.as_str());
    Ok(if created {
        HttpResponse::Created()
            .insert_header(("Location", format!("/event-types/{name}")))
            .json(entry)
    } else {
        HttpResponse::Ok().json(entry)
    })
}

/// Postgres' jsonb refuses some JSON serde takes (`\u0000`, a lone surrogate),
/// and the schema is the only free JSON a PUT stores: a 422 naming it.
fn schema_refused(e: StoreError) -> ApiError {
    match e.code() {
        Some(code) if code.starts_with("22") => ApiError::invalid(
            "schema",
            "holds a value PostgreSQL cannot store (such as \\u0000 or a lone surrogate like \\ud800)",
        ),
        _ => e.into(),
    }
}

#[utoipa::path(
    get,
    path = "/event-types",
    operation_id = "list_event_types",
    tag = "event types",
    summary = "List the catalog, newest first",
    params(("limit" = Option<i64>, Query, description = "1 to 500, default 50", minimum = 1, maximum = 500), ("cursor" = Option<String>, Query, description = "next_cursor of the previous page")),
    responses((status = 200, body = super::schema::EventTypePage), (status = 422, description = "Bad limit or cursor", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"), (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"))
)]
pub async fn list(state: Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let page = Query::parse(req.query_string())?.page_by::<String>()?;
    let rows = event_types::list(&state.db().await?, &page).await?;
    Ok(HttpResponse::Ok().json(Paginated::new(rows, page, |e| {
        (e.created_at, e.name.clone())
    })))
}

#[utoipa::path(
    get,
    path = "/event-types/{type}",
    operation_id = "get_event_type",
    tag = "event types",
    summary = "Read a catalog entry",
    params(("type" = String, Path, description = "The event type")),
    responses((status = 200, body = EventTypeEntry), (status = 404, description = "Not in the catalog", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"), (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"))
)]
pub async fn get(state: Data<AppState>, name: Path<String>) -> Result<HttpResponse, ApiError> {
    let name = named(&name)?;
    let entry = event_types::get(&state.db().await?, name.as_str())
        .await?
        .ok_or_else(|| not_found(name.as_str()))?;
    Ok(HttpResponse::Ok().json(entry))
}

#[utoipa::path(
    delete,
    path = "/event-types/{type}",
    operation_id = "delete_event_type",
    tag = "event types",
    summary = "Remove an event type from the catalog; events and webhooks naming it keep it",
    params(("type" = String, Path, description = "The event type")),
    responses((status = 204, description = "Removed"), (status = 403, description = "A tenant token: the catalog is the operator's", body = Problem, content_type = "application/problem+json"), (status = 404, description = "Not in the catalog", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"), (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"))
)]
pub async fn delete(
    state: Data<AppState>,
    _: Operator,
    name: Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = named(&name)?;
    if !event_types::delete(&state.db().await?, name.as_str()).await? {
        return Err(not_found(name.as_str()));
    }
    state.catalog.forget(name.as_str());
    Ok(HttpResponse::NoContent().finish())
}

/// POST /events: the event's type as the catalog has it, and its payload
/// against the type's schema. With HOOKRELAY_REQUIRE_EVENT_TYPES, a type the
/// catalog does not hold, or holds archived, is refused.
pub(super) async fn admit_event(
    state: &AppState,
    event_type: &EventType,
    payload: &RawValue,
) -> Result<(), ApiError> {
    let require = state.config.require_event_types;
    let rules = state
        .catalog
        .rules(&state.pool, event_type.as_str())
        .await?;
    let schema = match rules.as_deref() {
        None if require => return Err(ApiError::invalid("type", unlisted(event_type.as_str()))),
        Some(Rules { archived: true, .. }) if require => {
            return Err(ApiError::invalid("type", archived(event_type.as_str())))
        }
        Some(Rules {
            schema: Some(schema),
            ..
        }) => schema,
        _ => return Ok(()),
    };
    // Valid JSON already, and within serde's nesting limit (`Payload::parse`).
    let value: Value =
        serde_json::from_str(payload.get()).map_err(|e| ApiError::invalid("payload", e))?;
    schema.check(&value).map_err(|v| {
        if v.at.is_empty() {
            ApiError::invalid("payload", v.problem)
        } else {
            ApiError::invalid(&format!("payload at {}", v.at), v.problem)
        }
    })
}

/// POST and PATCH /webhooks, with HOOKRELAY_REQUIRE_EVENT_TYPES: every type
/// subscribed to is in the catalog and not archived. The wildcard, and
/// hookrelay's own types, are not the catalog's to refuse.
pub(super) async fn require_listed(
    state: &AppState,
    types: &EventTypeFilter,
) -> Result<(), ApiError> {
    if !state.config.require_event_types {
        return Ok(());
    }
    for t in types
        .as_slice()
        .iter()
        .filter(|t| *t != "*" && !t.starts_with(RESERVED_PREFIX))
    {
        match state.catalog.rules(&state.pool, t).await?.as_deref() {
            None => return Err(ApiError::invalid("event_types", unlisted(t))),
            Some(Rules { archived: true, .. }) => {
                return Err(ApiError::invalid("event_types", archived(t)))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

fn unlisted(name: &str) -> String {
    format!("{name:?} is not in the event-type catalog, and HOOKRELAY_REQUIRE_EVENT_TYPES is on (PUT /event-types/{name} adds it)")
}

fn archived(name: &str) -> String {
    format!(
        "{name:?} is archived in the event-type catalog, and HOOKRELAY_REQUIRE_EVENT_TYPES is on"
    )
}
