//! `/events`: emit (with fan-out and idempotency keys) and read. Emitting is
//! the operator's; a tenant token reads its own tenant's events.

use actix_web::web::{Data, Path, Payload};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde::Deserialize;
use serde_json::value::RawValue;
use tracing::{Instrument, Span};

use super::auth::{unknown_tenant_field, Caller, Operator};
use super::body::{parse, read_json_body};
use super::pagination::{Paginated, Query};
use super::problem::Problem;
use super::{not_found_id, parse_id, ApiError, AppState};
use crate::domain::{self, EventType, OrderingKey, TenantKey, TraceContext};
use crate::otel;
use crate::service;
use crate::store::deliveries::{self, Filter};
use crate::store::events::{self, Emitted, Event};

#[derive(utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmitEvent<'a> {
    /// The tenant the event is for: it fans out to that tenant's webhooks
    /// only. Absent: `default`.
    tenant: Option<String>,
    #[serde(rename = "type")]
    event_type: String,
    /// Kept as the client's own JSON text, byte for byte: what receivers get
    /// (and the signature covers) and what reads answer.
    #[serde(borrow)]
    #[schema(value_type = serde_json::Value)]
    payload: &'a RawValue,
    /// 1-256 characters: events of this tenant that share it reach each
    /// webhook one at a time, in the order they were accepted.
    ordering_key: Option<String>,
}

fn idempotency_key(req: &HttpRequest) -> Result<Option<&str>, ApiError> {
    let Some(value) = req.headers().get("Idempotency-Key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .filter(|k| {
            (1..=255).contains(&k.len()) && k.chars().all(|c| c.is_ascii_graphic() || c == ' ')
        })
        .ok_or_else(|| {
            ApiError::invalid("Idempotency-Key", "must be 1 to 255 printable characters")
        })?;
    Ok(Some(key))
}

/// The caller's W3C trace context. Anything malformed is ignored, as the
/// Trace Context specification asks: the event is accepted without one. Two
/// `traceparent` headers are malformed; several `tracestate` ones are one list.
fn trace_context(req: &HttpRequest) -> Option<TraceContext> {
    let mut parents = req.headers().get_all("traceparent");
    let parent = parents.next()?.to_str().ok()?;
    if parents.next().is_some() {
        return None;
    }
    let mut states = req
        .headers()
        .get_all("tracestate")
        .filter_map(|v| v.to_str().ok());
    let state = match (states.next(), states.next()) {
        (Some(first), None) => Some(first.to_owned()),
        (Some(first), Some(second)) => Some(
            [first, second]
                .into_iter()
                .chain(states)
                .collect::<Vec<_>>()
                .join(","),
        ),
        (None, _) => None,
    };
    TraceContext::parse(Some(parent), state.as_deref())
}

#[utoipa::path(
    post,
    path = "/events",
    operation_id = "emit_event",
    tag = "events",
    summary = "Emit an event; fanned out to matching webhooks in the same transaction",
    params(("Idempotency-Key" = Option<String>, Header, description = "1-255 printable characters; per tenant"), ("traceparent" = Option<String>, Header, description = "W3C Trace Context: kept with the event, and each attempt sends a child of it; a malformed one is ignored"), ("tracestate" = Option<String>, Header, description = "W3C Trace Context: sent on to receivers as given, beside the traceparent")),
    request_body = EmitEvent,
    responses((status = 201, description = "Created, with its deliveries", body = Event), (status = 200, description = "Idempotency-Key seen in the last 24 hours in this tenant: the original event", body = Event), (status = 403, description = "A tenant token: emitting is the operator's", body = Problem, content_type = "application/problem+json"), (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"), (status = 413, description = "Body over HOOKRELAY_MAX_PAYLOAD", body = Problem, content_type = "application/problem+json"), (status = 415, description = "Not application/json", body = Problem, content_type = "application/problem+json"), (status = 422, description = "Invalid field, named in detail", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"), (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"))
)]
pub async fn create(
    state: Data<AppState>,
    _: Operator,
    req: HttpRequest,
    payload: Payload,
) -> Result<HttpResponse, ApiError> {
    let caller = trace_context(&req);
    let span = otel::ingest_span(caller.as_ref());
    let answer = emit(state, req, payload, caller.as_ref(), &span)
        .instrument(span.clone())
        .await;
    let status = match &answer {
        Ok(response) => response.status(),
        Err(e) => e.status_code(),
    };
    otel::answered(&span, status.as_u16());
    answer
}

async fn emit(
    state: Data<AppState>,
    req: HttpRequest,
    payload: Payload,
    caller: Option<&TraceContext>,
    span: &Span,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency_key(&req)?;
    let body = read_json_body(&req, payload, state.config.max_payload).await?;
    let input: EmitEvent = parse(&body)?;
    let tenant = match input.tenant.as_deref() {
        Some(t) => TenantKey::parse(t).map_err(|e| ApiError::invalid("tenant", e))?,
        None => TenantKey::default_tenant(),
    };
    let event_type =
        EventType::parse_emitted(&input.event_type).map_err(|e| ApiError::invalid("type", e))?;
    let event_payload =
        domain::Payload::parse(input.payload).map_err(|e| ApiError::invalid("payload", e))?;
    let ordering_key = input
        .ordering_key
        .as_deref()
        .map(OrderingKey::parse)
        .transpose()
        .map_err(|e| ApiError::invalid("ordering_key", e))?;
    otel::ingesting(span, tenant.as_str(), event_type.as_str());
    // Here, not in the group-commit writers: one event's refusal is its own.
    service::catalog::admit_event(&state, &event_type, event_payload.raw()).await?;
    let emitted = events::emit(
        &state.ingest,
        &state.pool,
        &tenant,
        &event_type,
        event_payload,
        ordering_key.as_ref(),
        key,
        otel::ingest_context(span, caller).as_ref(),
    )
    .await
    .map_err(|e| ApiError::from(service::catalog::payload_rejected(e)))?;
    Ok(match emitted {
        Emitted::Created(event) => {
            otel::ingested(span, event.id, event.deliveries);
            if event.deliveries > 0 {
                state.wakeup.new_work();
            }
            HttpResponse::Created()
                .insert_header(("Location", format!("/events/{}", event.id)))
                .json(event)
        }
        Emitted::Repeated(event) => HttpResponse::Ok()
            .insert_header(("Location", format!("/events/{}", event.id)))
            .json(event),
        Emitted::NoTenant => return Err(unknown_tenant_field(tenant.as_str())),
    })
}

#[utoipa::path(
    get,
    path = "/events",
    operation_id = "list_events",
    tag = "events",
    summary = "List events, newest first",
    params(("limit" = Option<i64>, Query, description = "1 to 500, default 50", minimum = 1, maximum = 500), ("cursor" = Option<String>, Query, description = "next_cursor of the previous page"), ("type" = Option<String>, Query, description = "Only this event type"), ("tenant" = Option<String>, Query, description = "Only this tenant's (a tenant token sees only its own)")),
    responses((status = 200, body = super::schema::EventPage), (status = 404, description = "A tenant token named another tenant", body = Problem, content_type = "application/problem+json"), (status = 422, description = "Bad limit, cursor, type or tenant", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"), (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"))
)]
pub async fn list(
    state: Data<AppState>,
    caller: Caller,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let query = Query::parse(req.query_string())?;
    let page = query.page()?;
    let tenant = query.tenant()?;
    let scope = caller.list_scope(tenant.as_ref())?;
    let event_type = query
        .get("type")
        .map(|t| EventType::parse(t).map_err(|e| ApiError::invalid("type", e)))
        .transpose()?;
    let rows = events::list(
        &state.db().await?,
        page,
        scope,
        event_type.as_ref().map(EventType::as_str),
    )
    .await?;
    Ok(HttpResponse::Ok().json(Paginated::new(rows, page, |e| (e.created_at, e.id))))
}

#[utoipa::path(
    get,
    path = "/events/{id}",
    operation_id = "get_event",
    tag = "events",
    summary = "Read an event",
    params(("id" = uuid::Uuid, Path, description = "The event's id (a UUID)")),
    responses((status = 200, body = Event), (status = 404, description = "No such event, or another tenant's", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"), (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"))
)]
pub async fn get(
    state: Data<AppState>,
    caller: Caller,
    id: Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id("event", &id)?;
    let event = events::get(&state.db().await?, id, caller.scope())
        .await?
        .ok_or_else(|| not_found_id("event", id))?;
    Ok(HttpResponse::Ok().json(event))
}

#[utoipa::path(
    get,
    path = "/events/{id}/deliveries",
    operation_id = "list_event_deliveries",
    tag = "events",
    summary = "List an event's deliveries",
    params(("id" = uuid::Uuid, Path, description = "The event's id (a UUID)"), ("limit" = Option<i64>, Query, description = "1 to 500, default 50", minimum = 1, maximum = 500), ("cursor" = Option<String>, Query, description = "next_cursor of the previous page")),
    responses((status = 200, body = super::schema::DeliveryPage), (status = 404, description = "No such event, or another tenant's", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"), (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"))
)]
pub async fn deliveries(
    state: Data<AppState>,
    caller: Caller,
    id: Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id("event", &id)?;
    let page = Query::parse(req.query_string())?.page()?;
    let client = state.db().await?;
    if events::get(&client, id, caller.scope()).await?.is_none() {
        return Err(not_found_id("event", id));
    }
    let filter = Filter {
        event_id: Some(id),
        ..Filter::default()
    };
    let rows = deliveries::list(&client, page, caller.scope(), &filter).await?;
    Ok(HttpResponse::Ok().json(Paginated::new(rows, page, |d| (d.created_at, d.id))))
}
