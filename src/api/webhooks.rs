//! `/webhooks`: register, read, change, delete, secrets, test events, and
//! requeue dead letters. All of it is open to tenant tokens, for the tenant's
//! own webhooks: every store call gets the caller's scope.

use std::collections::BTreeMap;

use actix_web::web::{Data, Path, Payload};
use actix_web::{HttpRequest, HttpResponse};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;

use super::auth::Caller;
use super::body::{parse, read_json_body, read_optional_json_body};
use super::pagination::{Paginated, Query};
use super::problem::Problem;
use super::{not_found_id, parse_id, ApiError, AppState};
use crate::domain::{self, EventType};
use crate::service::{self, webhooks::WebhookEdit, webhooks::WebhookInput};
use crate::store::webhooks::{self, Webhook};

#[derive(utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// The tenant that owns the webhook; absent: `default` (with a tenant
    /// token: the token's tenant, the only one it may name).
    tenant: Option<String>,
    #[schema(format = "uri")]
    url: String,
    event_types: Vec<String>,
    description: Option<String>,
    secret: Option<String>,
    enabled: Option<bool>,
    /// At most this many attempts per second to this webhook, across every
    /// hookrelay process; absent or null: no limit.
    rate_limit: Option<i64>,
    /// 1-1,000: at most this many attempts to this webhook under way at once,
    /// across every hookrelay process; absent or null:
    /// HOOKRELAY_MAX_IN_FLIGHT_PER_WEBHOOK. 1 sends one at a time.
    max_in_flight: Option<i64>,
    /// Up to 20 headers sent with every attempt, unsigned. Their values are
    /// write-only: reads show `"••••"`; `GET /webhooks/{id}/headers` answers them.
    #[schema(value_type = Option<super::schema::Headers>)]
    headers: Option<BTreeMap<String, String>>,
}

#[derive(utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhook {
    #[schema(format = "uri")]
    url: Option<String>,
    event_types: Option<Vec<String>>,
    enabled: Option<bool>,
    /// Absent: unchanged; null: cleared.
    #[serde(default, deserialize_with = "present")]
    description: Option<Option<String>>,
    /// Absent: unchanged; null: no limit.
    #[serde(default, deserialize_with = "present")]
    rate_limit: Option<Option<i64>>,
    /// Absent: unchanged; null: HOOKRELAY_MAX_IN_FLIGHT_PER_WEBHOOK.
    #[serde(default, deserialize_with = "present")]
    max_in_flight: Option<Option<i64>>,
    /// Replaces every custom header; `{}` or null removes them all. A value
    /// given as `"••••"` (as reads show it) keeps the stored one.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<super::schema::Headers>)]
    headers: Option<Option<BTreeMap<String, String>>>,
}

pub(super) fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// The answer to POST /webhooks: the only read, with GET .../secret, that shows the secret.
#[derive(utoipa::ToSchema, Serialize)]
pub struct WebhookWithSecret {
    #[serde(flatten)]
    webhook: Webhook,
    secret: String,
}

#[derive(utoipa::ToSchema, Serialize)]
pub struct SecretBody {
    secret: String,
}

/// A webhook's custom headers with their values: this answer only.
#[derive(utoipa::ToSchema, Serialize)]
pub struct HeadersBody {
    #[schema(value_type = super::schema::Headers)]
    headers: serde_json::Value,
}

#[utoipa::path(
    post,
    path = "/webhooks",
    operation_id = "create_webhook",
    tag = "webhooks",
    summary = "Register a webhook",
    request_body = CreateWebhook,
    responses((status = 201, description = "Created; the only answer besides GET .../secret that shows the secret", body = WebhookWithSecret), (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"), (status = 413, description = "Body over HOOKRELAY_MAX_PAYLOAD", body = Problem, content_type = "application/problem+json"), (status = 415, description = "Not application/json", body = Problem, content_type = "application/problem+json"), (status = 422, description = "Invalid field, named in detail", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"), (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"))
)]
pub async fn create(
    state: Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    payload: Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_json_body(&req, payload, state.config.max_payload).await?;
    let input: CreateWebhook = parse(&body)?;
    let tenant = caller.tenant_for_new(input.tenant.as_deref())?;
    let (webhook, secret) = service::webhooks::create(
        &state,
        tenant,
        WebhookInput {
            url: input.url,
            event_types: input.event_types,
            description: input.description,
            secret: input.secret,
            enabled: input.enabled,
            rate_limit: input.rate_limit,
            max_in_flight: input.max_in_flight,
            headers: input.headers,
        },
    )
    .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/webhooks/{}", webhook.id)))
        .json(WebhookWithSecret {
            webhook,
            secret: secret.expose().to_owned(),
        }))
}

#[utoipa::path(
    get,
    path = "/webhooks",
    operation_id = "list_webhooks",
    tag = "webhooks",
    summary = "List webhooks, newest first",
    params(("limit" = Option<i64>, Query, description = "1 to 500, default 50", minimum = 1, maximum = 500), ("cursor" = Option<String>, Query, description = "next_cursor of the previous page"), ("tenant" = Option<String>, Query, description = "Only this tenant's (a tenant token sees only its own)")),
    responses((status = 200, body = super::schema::WebhookPage), (status = 404, description = "A tenant token named another tenant", body = Problem, content_type = "application/problem+json"), (status = 422, description = "Bad limit, cursor or tenant", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"), (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"))
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
    let rows = webhooks::list(&state.db().await?, page, scope).await?;
    Ok(HttpResponse::Ok().json(Paginated::new(rows, page, |w| (w.created_at, w.id))))
}

#[utoipa::path(
    get,
    path = "/webhooks/{id}",
    operation_id = "get_webhook",
    tag = "webhooks",
    summary = "Read a webhook (never its secret)",
    params(("id" = uuid::Uuid, Path, description = "The webhook's id (a UUID)")),
    responses((status = 200, body = Webhook), (status = 404, description = "No such webhook, or another tenant's", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"), (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"))
)]
pub async fn get(
    state: Data<AppState>,
    caller: Caller,
    id: Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id("webhook", &id)?;
    let webhook = webhooks::get(&state.db().await?, id, caller.scope())
        .await?
        .ok_or_else(|| not_found_id("webhook", id))?;
    Ok(HttpResponse::Ok().json(webhook))
}

#[utoipa::path(
    patch,
    path = "/webhooks/{id}",
    operation_id = "update_webhook",
    tag = "webhooks",
    summary = "Change url, event_types, description, enabled or headers",
    params(("id" = uuid::Uuid, Path, description = "The webhook's id (a UUID)")),
    request_body = UpdateWebhook,
    responses((status = 200, body = Webhook), (status = 404, description = "No such webhook, or another tenant's", body = Problem, content_type = "application/problem+json"), (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"), (status = 413, description = "Body over HOOKRELAY_MAX_PAYLOAD", body = Problem, content_type = "application/problem+json"), (status = 415, description = "Not application/json", body = Problem, content_type = "application/problem+json"), (status = 422, description = "Invalid field, named in detail", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"), (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"))
)]
pub async fn update(
    state: Data<AppState>,
    caller: Caller,
    id: Path<String>,
    req: HttpRequest,
    payload: Payload,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id("webhook", &id)?;
    let body = read_json_body(&req, payload, state.config.max_payload).await?;
    let input: UpdateWebhook = parse(&body)?;
    let changes = service::webhooks::parse_edit(
        &state,
        WebhookEdit {
            url: input.url,
            event_types: input.event_types,
            enabled: input.enabled,
            description: input.description,
            rate_limit: input.rate_limit,
            max_in_flight: input.max_in_flight,
            headers: input.headers,
        },
    )?;
    let webhook = service::webhooks::change(&state, caller.scope(), id, &changes).await?;
    Ok(HttpResponse::Ok().json(webhook))
}

#[utoipa::path(
    delete,
    path = "/webhooks/{id}",
    operation_id = "delete_webhook",
    tag = "webhooks",
    summary = "Delete a webhook; nothing is sent to it once this returns",
    params(("id" = uuid::Uuid, Path, description = "The webhook's id (a UUID)")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "No such webhook, or another tenant's", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"), (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"))
)]
pub async fn delete(
    state: Data<AppState>,
    caller: Caller,
    id: Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id("webhook", &id)?;
    service::webhooks::delete(&state, caller.scope(), id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    get,
    path = "/webhooks/{id}/secret",
    operation_id = "get_webhook_secret",
    tag = "webhooks",
    summary = "Read the signing secret",
    params(("id" = uuid::Uuid, Path, description = "The webhook's id (a UUID)")),
    responses((status = 200, body = SecretBody), (status = 404, description = "No such webhook, or another tenant's", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"), (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"))
)]
pub async fn secret(
    state: Data<AppState>,
    caller: Caller,
    id: Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id("webhook", &id)?;
    let secret = webhooks::secret(&state.db().await?, id, caller.scope(), &state.config.keys)
        .await?
        .ok_or_else(|| not_found_id("webhook", id))?;
    Ok(HttpResponse::Ok().json(SecretBody { secret }))
}

#[utoipa::path(
    get,
    path = "/webhooks/{id}/headers",
    operation_id = "get_webhook_headers",
    tag = "webhooks",
    summary = "Read the custom headers with their values, which every other read masks",
    params(("id" = uuid::Uuid, Path, description = "The webhook's id (a UUID)")),
    responses((status = 200, body = HeadersBody), (status = 404, description = "No such webhook, or another tenant's", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"), (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"))
)]
pub async fn headers(
    state: Data<AppState>,
    caller: Caller,
    id: Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id("webhook", &id)?;
    let headers = webhooks::headers(&state.db().await?, id, caller.scope(), &state.config.keys)
        .await?
        .ok_or_else(|| not_found_id("webhook", id))?;
    Ok(HttpResponse::Ok().json(HeadersBody { headers }))
}

#[utoipa::path(
    post,
    path = "/webhooks/{id}/rotate-secret",
    operation_id = "rotate_webhook_secret",
    tag = "webhooks",
    summary = "New secret; the old one keeps signing for 24 hours",
    params(("id" = uuid::Uuid, Path, description = "The webhook's id (a UUID)")),
    responses((status = 200, body = SecretBody), (status = 404, description = "No such webhook, or another tenant's", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"), (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"))
)]
pub async fn rotate_secret(
    state: Data<AppState>,
    caller: Caller,
    id: Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id("webhook", &id)?;
    let secret = service::webhooks::rotate(&state, caller.scope(), id).await?;
    Ok(HttpResponse::Ok().json(SecretBody { secret }))
}

#[derive(utoipa::ToSchema, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SendTestEvent<'a> {
    /// Default `hookrelay.test`; else an event type a client may emit.
    #[serde(rename = "type")]
    event_type: Option<String>,
    /// Default `{"test": true, "webhook_id": "<id>"}`.
    #[serde(borrow, default)]
    #[schema(value_type = Option<serde_json::Value>)]
    payload: Option<&'a RawValue>,
}

#[derive(utoipa::ToSchema, Serialize)]
pub struct TestEventQueued {
    delivery_id: uuid::Uuid,
}

/// A disabled webhook refuses the test (409) rather than holding it: a test
/// is asked for to see a delivery now, and one that waited for the webhook to
/// be enabled again would arrive long after anyone was looking for it.
#[utoipa::path(
    post,
    path = "/webhooks/{id}/test",
    operation_id = "send_test_event",
    tag = "webhooks",
    summary = "Send a test event to this webhook alone, through the ordinary queue",
    params(("id" = uuid::Uuid, Path, description = "The webhook's id (a UUID)")),
    request_body(content = Option<SendTestEvent>, description = "Optional; without it the type is hookrelay.test"),
    responses((status = 202, description = "Queued", body = TestEventQueued), (status = 404, description = "No such webhook, or another tenant's", body = Problem, content_type = "application/problem+json"), (status = 409, description = "The webhook is disabled", body = Problem, content_type = "application/problem+json"), (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"), (status = 413, description = "Body over HOOKRELAY_MAX_PAYLOAD", body = Problem, content_type = "application/problem+json"), (status = 415, description = "A body that is not application/json", body = Problem, content_type = "application/problem+json"), (status = 422, description = "Invalid field, named in detail", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"), (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"))
)]
pub async fn send_test(
    state: Data<AppState>,
    caller: Caller,
    id: Path<String>,
    req: HttpRequest,
    payload: Payload,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id("webhook", &id)?;
    let body = read_optional_json_body(&req, payload, state.config.max_payload).await?;
    let input: SendTestEvent = match &body {
        Some(body) => parse(body)?,
        None => SendTestEvent::default(),
    };
    let event_type = match input.event_type.as_deref() {
        Some(t) => EventType::parse_test(t).map_err(|e| ApiError::invalid("type", e))?,
        None => EventType::test(),
    };
    let event_payload = input
        .payload
        .map(|p| domain::Payload::parse(p).map_err(|e| ApiError::invalid("payload", e)))
        .transpose()?;
    let delivery_id =
        service::webhooks::test_event(&state, caller.scope(), id, &event_type, event_payload)
            .await?;
    Ok(HttpResponse::Accepted().json(TestEventQueued { delivery_id }))
}

#[derive(utoipa::ToSchema, Serialize)]
pub struct Requeued {
    requeued: u64,
}

#[utoipa::path(
    post,
    path = "/webhooks/{id}/retry-failed",
    operation_id = "retry_failed_deliveries",
    tag = "webhooks",
    summary = "Requeue every failed delivery of the webhook",
    params(("id" = uuid::Uuid, Path, description = "The webhook's id (a UUID)"), ("since" = Option<chrono::DateTime<chrono::Utc>>, Query, description = "RFC 3339: only deliveries that failed at or after it")),
    responses((status = 202, body = Requeued), (status = 404, description = "No such webhook, or another tenant's", body = Problem, content_type = "application/problem+json"), (status = 422, description = "Bad since", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"), (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"))
)]
pub async fn retry_failed(
    state: Data<AppState>,
    caller: Caller,
    id: Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id("webhook", &id)?;
    let since = Query::parse(req.query_string())?.time("since")?;
    let requeued = service::webhooks::requeue_failed(&state, caller.scope(), id, since).await?;
    Ok(HttpResponse::Accepted().json(Requeued { requeued }))
}
