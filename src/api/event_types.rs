//! `/event-types`: the operator's catalog of event types. Its writes, and the
//! checks it imposes on events and subscriptions, are `service::catalog`'s.
//! The catalog is the operator's: tenant tokens may read it (so a portal can
//! offer its types), not change it.

use actix_web::web::{Data, Path, Payload};
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::Value;

use super::auth::Operator;
use super::body::{parse, read_json_body};
use super::pagination::{Paginated, Query};
use super::problem::Problem;
use super::webhooks::present;
use super::{ApiError, AppState};
use crate::domain::EventType;
use crate::service::{self, catalog::EventTypeEdit};
use crate::store::event_types::{self, EventTypeEntry};

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
    let body = read_json_body(&req, payload, state.config.max_payload).await?;
    let input: PutEventType = parse(&body)?;
    let edit = EventTypeEdit {
        description: input.description,
        schema: input.schema,
        archived: input.archived,
    };
    let (entry, created) = service::catalog::put(&state, &name, edit).await?;
    let name = entry.name.clone();
    Ok(if created {
        HttpResponse::Created()
            .insert_header(("Location", format!("/event-types/{name}")))
            .json(entry)
    } else {
        HttpResponse::Ok().json(entry)
    })
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
    if !service::catalog::delete(&state, &name).await? {
        return Err(not_found(name.as_str()));
    }
    Ok(HttpResponse::NoContent().finish())
}
