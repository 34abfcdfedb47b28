//! `/events`: emit (with fan-out and idempotency keys) and read.

use actix_web::web::{Data, Path, Payload};
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::body::{parse, read_json_body};
use super::pagination::{Paginated, Query};
use super::{not_found_id, parse_id, ApiError, AppState};
use crate::domain::{self, EventType};
use crate::store::deliveries::{self, Filter};
use crate::store::events::{self, Emitted};
use crate::store::StoreError;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EmitEvent<'a> {
    #[serde(rename = "type")]
    event_type: String,
    /// Kept as the client's own JSON text: no precision is lost on the way to Postgres.
    #[serde(borrow)]
    payload: &'a RawValue,
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

pub async fn create(
    state: Data<AppState>,
    req: HttpRequest,
    payload: Payload,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency_key(&req)?;
    let body = read_json_body(&req, payload, state.config.max_payload).await?;
    let input: EmitEvent = parse(&body)?;
    let event_type =
        EventType::parse(&input.event_type).map_err(|e| ApiError::invalid("type", e))?;
    let event_payload =
        domain::Payload::parse(input.payload).map_err(|e| ApiError::invalid("payload", e))?;
    let mut client = state.db().await?;
    let emitted = events::emit(&mut client, &event_type, event_payload, key)
        .await
        .map_err(payload_rejected)?;
    Ok(match emitted {
        Emitted::Created(event) => {
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
    })
}

/// Postgres refuses some JSON that is valid for serde (a `\u0000` escape in jsonb):
/// that is the client's payload at fault, a 422, not a server error.
fn payload_rejected(e: StoreError) -> ApiError {
    match e.code() {
        Some(code) if code.starts_with("22") => ApiError::invalid(
            "payload",
            "holds a value Postgres cannot store (such as \\u0000)",
        ),
        _ => e.into(),
    }
}

pub async fn list(state: Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let query = Query::parse(req.query_string())?;
    let page = query.page()?;
    let event_type = query
        .get("type")
        .map(|t| EventType::parse(t).map_err(|e| ApiError::invalid("type", e)))
        .transpose()?;
    let rows = events::list(
        &state.db().await?,
        page,
        event_type.as_ref().map(EventType::as_str),
    )
    .await?;
    Ok(HttpResponse::Ok().json(Paginated::new(rows, page, |e| (e.created_at, e.id))))
}

pub async fn get(state: Data<AppState>, id: Path<String>) -> Result<HttpResponse, ApiError> {
    let id = parse_id("event", &id)?;
    let event = events::get(&state.db().await?, id)
        .await?
        .ok_or_else(|| not_found_id("event", id))?;
    Ok(HttpResponse::Ok().json(event))
}

pub async fn deliveries(
    state: Data<AppState>,
    id: Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id("event", &id)?;
    let page = Query::parse(req.query_string())?.page()?;
    let client = state.db().await?;
    if events::get(&client, id).await?.is_none() {
        return Err(not_found_id("event", id));
    }
    let filter = Filter {
        event_id: Some(id),
        ..Filter::default()
    };
    let rows = deliveries::list(&client, page, &filter).await?;
    Ok(HttpResponse::Ok().json(Paginated::new(rows, page, |d| (d.created_at, d.id))))
}
