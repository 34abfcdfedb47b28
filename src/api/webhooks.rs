//! `/webhooks`: register, read, change, delete, secrets, test events, and
//! requeue dead letters. All of it is open to tenant tokens, for the tenant's
//! own webhooks: every store call gets the caller's scope.

use std::collections::BTreeMap;

use actix_web::web::{Data, Path, Payload};
use actix_web::{HttpRequest, HttpResponse};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use uuid::Uuid;

use super::auth::{unknown_tenant_field, Caller};
use super::body::{parse, read_json_body, read_optional_json_body};
use super::pagination::{Paginated, Query};
use super::problem::Problem;
use super::{not_found_id, parse_id, ApiError, AppState};
use crate::delivery::guard;
use crate::domain::{
    self, parse_description, CustomHeaders, EventType, EventTypeFilter, Secret, WebhookUrl,
    TEST_EVENT_TYPE,
};
use crate::store::webhooks::{self, NewWebhook, TestEvent, Webhook, WebhookChanges};
use crate::store::Scope;

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

pub(crate) fn parse_url(state: &AppState, raw: &str) -> Result<WebhookUrl, ApiError> {
    let url = WebhookUrl::parse(raw).map_err(|e| ApiError::invalid("url", e))?;
    if !state.config.allow_private_targets {
        if let Some(ip) = guard::literal_ip(&url) {
            if guard::is_forbidden(ip) {
                return Err(ApiError::invalid(
                    "url",
                    format!("{ip} is a private or reserved address; hookrelay does not deliver there (HOOKRELAY_ALLOW_PRIVATE_TARGETS lifts this)"),
                ));
            }
        }
    }
    Ok(url)
}

/// Most attempts per second a limit may allow: beyond this, a limit limits nothing.
const MAX_RATE_LIMIT: i64 = 100_000;

pub(crate) fn parse_rate_limit(raw: Option<i64>) -> Result<Option<i32>, ApiError> {
    raw.map(|r| match i32::try_from(r) {
        Ok(r) if (1..=MAX_RATE_LIMIT).contains(&i64::from(r)) => Ok(r),
        _ => Err(ApiError::invalid(
            "rate_limit",
            format!("must be an integer from 1 to {MAX_RATE_LIMIT} (attempts per second), or null for no limit; got {r}"),
        )),
    })
    .transpose()
}

pub(crate) fn parse_max_in_flight(raw: Option<i64>) -> Result<Option<i32>, ApiError> {
    raw.map(|n| match i32::try_from(n) {
        Ok(n) if (1..=1000).contains(&n) => Ok(n),
        _ => Err(ApiError::invalid(
            "max_in_flight",
            format!("must be an integer from 1 to 1000 (attempts under way at once), or null for the default; got {n}"),
        )),
    })
    .transpose()
}

pub(crate) fn parse_event_types(raw: &[String]) -> Result<EventTypeFilter, ApiError> {
    EventTypeFilter::parse(raw).map_err(|e| ApiError::invalid("event_types", e))
}

fn parse_headers(raw: Option<BTreeMap<String, String>>) -> Result<CustomHeaders, ApiError> {
    CustomHeaders::parse(raw.unwrap_or_default()).map_err(|e| ApiError::invalid("headers", e))
}

/// A PATCH's headers: a value given as `"••••"` keeps the stored one.
fn parse_changed_headers(raw: Option<BTreeMap<String, String>>) -> Result<CustomHeaders, ApiError> {
    CustomHeaders::parse_change(raw.unwrap_or_default())
        .map_err(|e| ApiError::invalid("headers", e))
}

pub(crate) fn parse_optional_description(raw: Option<&str>) -> Result<Option<String>, ApiError> {
    raw.map(|d| parse_description(d).map_err(|e| ApiError::invalid("description", e)))
        .transpose()
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
    let secret = match &input.secret {
        Some(s) => Secret::parse(s).map_err(|e| ApiError::invalid("secret", e))?,
        None => Secret::generate(),
    };
    let new = NewWebhook {
        tenant: tenant.clone(),
        url: parse_url(&state, &input.url)?,
        event_types: parse_event_types(&input.event_types)?,
        description: parse_optional_description(input.description.as_deref())?,
        enabled: input.enabled.unwrap_or(true),
        secret: secret.clone(),
        rate_limit: parse_rate_limit(input.rate_limit)?,
        max_in_flight: parse_max_in_flight(input.max_in_flight)?,
        headers: parse_headers(input.headers)?,
    };
    super::event_types::require_listed(&state, &new.event_types).await?;
    let webhook = webhooks::insert(&state.db().await?, new, &state.config.keys)
        .await?
        .ok_or_else(|| unknown_tenant_field(tenant.as_str()))?;
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
    let changes = WebhookChanges {
        url: input
            .url
            .as_deref()
            .map(|u| parse_url(&state, u))
            .transpose()?,
        event_types: input
            .event_types
            .as_deref()
            .map(parse_event_types)
            .transpose()?,
        enabled: input.enabled,
        description: input
            .description
            .map(|d| parse_optional_description(d.as_deref()))
            .transpose()?,
        rate_limit: input.rate_limit.map(parse_rate_limit).transpose()?,
        max_in_flight: input.max_in_flight.map(parse_max_in_flight).transpose()?,
        headers: input.headers.map(parse_changed_headers).transpose()?,
    };
    Ok(HttpResponse::Ok().json(change(&state, caller.scope(), id, &changes).await?))
}

/// What a change to a webhook is, for the API and the console alike: the
/// catalog's say on its types, the write, and the workers told before anyone
/// is answered.
pub(crate) async fn change(
    state: &AppState,
    scope: Scope<'_>,
    id: Uuid,
    changes: &WebhookChanges,
) -> Result<Webhook, ApiError> {
    if let Some(types) = &changes.event_types {
        super::event_types::require_listed(state, types).await?;
    }
    let enabling = changes.enabled == Some(true);
    let (webhook, version) = webhooks::update(
        &mut state.db().await?,
        id,
        scope,
        changes,
        &state.config.keys,
    )
    .await?
    .ok_or_else(|| not_found_id("webhook", id))?;
    // Before answering: every attempt that starts after this returns sees the change.
    state.targets.announce(id, version);
    if enabling {
        // Its held deliveries are due again.
        state.wakeup.new_work();
    }
    Ok(webhook)
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
    let version = webhooks::delete(&mut state.db().await?, id, caller.scope())
        .await?
        .ok_or_else(|| not_found_id("webhook", id))?;
    // No attempt starts here from now on; other processes hear it by NOTIFY.
    state.targets.announce(id, version);
    // Attempts already under way finish (or are handed back) before this
    // returns, so nothing is sent afterwards. A claimed delivery is sent within
    // its lease or not at all (workers.rs, latest_start): one lease bounds the wait.
    let wait = state.config.lease + std::time::Duration::from_secs(1);
    webhooks::wait_until_idle(&state.pool, id, wait).await?;
    // Its history goes in the background; the retention sweep finishes the job
    // if this process stops first.
    let pool = state.pool.clone();
    tokio::spawn(async move {
        let purged =
            async { crate::retention::purge_deleted_webhooks(&pool.get().await?).await }.await;
        if let Err(e) = purged {
            tracing::warn!(error = %e, webhook_id = %id, "could not purge a deleted webhook yet; the retention sweep will");
        }
    });
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
    let secret = rotate(&state, caller.scope(), id).await?;
    Ok(HttpResponse::Ok().json(SecretBody { secret }))
}

/// A new secret, announced to the workers before anyone is answered; the new
/// secret is returned.
pub(crate) async fn rotate(
    state: &AppState,
    scope: Scope<'_>,
    id: Uuid,
) -> Result<String, ApiError> {
    let new = Secret::generate();
    let (secret, version) =
        webhooks::rotate_secret(&state.db().await?, id, scope, &new, &state.config.keys)
            .await?
            .ok_or_else(|| not_found_id("webhook", id))?;
    state.targets.announce(id, version);
    Ok(secret)
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
    let delivery_id = test_event(&state, caller.scope(), id, &event_type, event_payload).await?;
    Ok(HttpResponse::Accepted().json(TestEventQueued { delivery_id }))
}

/// A test event to this webhook alone, for the API and the console alike;
/// returns its delivery's id. A type other than `hookrelay.test` goes through
/// the catalog as POST /events does (its schema, HOOKRELAY_REQUIRE_EVENT_TYPES),
/// with the payload it will carry: the one given, else the default.
pub(crate) async fn test_event(
    state: &AppState,
    scope: Scope<'_>,
    id: Uuid,
    event_type: &EventType,
    payload: Option<domain::Payload<'_>>,
) -> Result<Uuid, ApiError> {
    if event_type.as_str() != TEST_EVENT_TYPE {
        let default;
        let checked = match &payload {
            Some(p) => p.raw(),
            // As sql/webhook_test_event.sql makes it.
            None => {
                default = serde_json::value::to_raw_value(
                    &serde_json::json!({"test": true, "webhook_id": id}),
                )
                .map_err(|e| ApiError::invalid("payload", e))?;
                &*default
            }
        };
        super::event_types::admit_event(state, event_type, checked).await?;
    }
    let sent = webhooks::send_test(&state.db().await?, id, scope, event_type, payload)
        .await
        .map_err(super::events::payload_rejected)?;
    match sent {
        TestEvent::Queued(delivery_id) => {
            state.wakeup.new_work();
            Ok(delivery_id)
        }
        TestEvent::NotFound => Err(not_found_id("webhook", id)),
        TestEvent::Disabled => Err(ApiError::Conflict(format!(
            "webhook {id} is disabled: it gets no deliveries, test events included; enable it first"
        ))),
    }
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
    let requeued = requeue_failed(&state, caller.scope(), id, since).await?;
    Ok(HttpResponse::Accepted().json(Requeued { requeued }))
}

/// Every failed delivery of the webhook back in the queue, for the API and
/// the console alike; returns how many.
pub(crate) async fn requeue_failed(
    state: &AppState,
    scope: Scope<'_>,
    id: Uuid,
    since: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<u64, ApiError> {
    let requeued = webhooks::retry_failed(&state.db().await?, id, scope, since)
        .await?
        .ok_or_else(|| not_found_id("webhook", id))?;
    if requeued > 0 {
        state.wakeup.new_work();
    }
    Ok(requeued)
}
