//! `/webhooks`: register, read, change, delete, secrets, and requeue dead letters.

use actix_web::web::{Data, Path, Payload};
use actix_web::{HttpRequest, HttpResponse};
use serde::{Deserialize, Deserializer, Serialize};

use super::body::{parse, read_json_body};
use super::pagination::{Paginated, Query};
use super::{not_found_id, parse_id, ApiError, AppState};
use crate::delivery::guard;
use crate::domain::{parse_description, EventTypeFilter, Secret, WebhookUrl};
use crate::store::webhooks::{self, NewWebhook, Webhook, WebhookChanges};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateWebhook {
    url: String,
    event_types: Vec<String>,
    description: Option<String>,
    secret: Option<String>,
    enabled: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateWebhook {
    url: Option<String>,
    event_types: Option<Vec<String>>,
    enabled: Option<bool>,
    /// Absent: unchanged; null: cleared.
    #[serde(default, deserialize_with = "present")]
    description: Option<Option<String>>,
}

fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// The answer to POST /webhooks: the only read, with GET .../secret, that shows the secret.
#[derive(Serialize)]
struct WebhookWithSecret {
    #[serde(flatten)]
    webhook: Webhook,
    secret: String,
}

#[derive(Serialize)]
struct SecretBody {
    secret: String,
}

fn parse_url(state: &AppState, raw: &str) -> Result<WebhookUrl, ApiError> {
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

fn parse_event_types(raw: &[String]) -> Result<EventTypeFilter, ApiError> {
    EventTypeFilter::parse(raw).map_err(|e| ApiError::invalid("event_types", e))
}

fn parse_optional_description(raw: Option<&str>) -> Result<Option<String>, ApiError> {
    raw.map(|d| parse_description(d).map_err(|e| ApiError::invalid("description", e)))
        .transpose()
}

pub async fn create(
    state: Data<AppState>,
    req: HttpRequest,
    payload: Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_json_body(&req, payload, state.config.max_payload).await?;
    let input: CreateWebhook = parse(&body)?;
    let secret = match &input.secret {
        Some(s) => Secret::parse(s).map_err(|e| ApiError::invalid("secret", e))?,
        None => Secret::generate(),
    };
    let new = NewWebhook {
        url: parse_url(&state, &input.url)?,
        event_types: parse_event_types(&input.event_types)?,
        description: parse_optional_description(input.description.as_deref())?,
        enabled: input.enabled.unwrap_or(true),
        secret: secret.clone(),
    };
    let webhook = webhooks::insert(&state.db().await?, new).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/webhooks/{}", webhook.id)))
        .json(WebhookWithSecret {
            webhook,
            secret: secret.expose().to_owned(),
        }))
}

pub async fn list(state: Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let page = Query::parse(req.query_string())?.page()?;
    let rows = webhooks::list(&state.db().await?, page).await?;
    Ok(HttpResponse::Ok().json(Paginated::new(rows, page, |w| (w.created_at, w.id))))
}

pub async fn get(state: Data<AppState>, id: Path<String>) -> Result<HttpResponse, ApiError> {
    let id = parse_id("webhook", &id)?;
    let webhook = webhooks::get(&state.db().await?, id)
        .await?
        .ok_or_else(|| not_found_id("webhook", id))?;
    Ok(HttpResponse::Ok().json(webhook))
}

pub async fn update(
    state: Data<AppState>,
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
    };
    let enabling = changes.enabled == Some(true);
    let webhook = webhooks::update(&mut state.db().await?, id, changes)
        .await?
        .ok_or_else(|| not_found_id("webhook", id))?;
    if enabling {
        // Its held deliveries are due again.
        state.wakeup.new_work();
    }
    Ok(HttpResponse::Ok().json(webhook))
}

pub async fn delete(state: Data<AppState>, id: Path<String>) -> Result<HttpResponse, ApiError> {
    let id = parse_id("webhook", &id)?;
    // An attempt under way lasts at most one delivery timeout; wait that long for it.
    let wait = state.config.delivery_timeout + std::time::Duration::from_secs(1);
    if !webhooks::delete(&mut state.db().await?, id, wait).await? {
        return Err(not_found_id("webhook", id));
    }
    Ok(HttpResponse::NoContent().finish())
}

pub async fn secret(state: Data<AppState>, id: Path<String>) -> Result<HttpResponse, ApiError> {
    let id = parse_id("webhook", &id)?;
    let secret = webhooks::secret(&state.db().await?, id)
        .await?
        .ok_or_else(|| not_found_id("webhook", id))?;
    Ok(HttpResponse::Ok().json(SecretBody { secret }))
}

pub async fn rotate_secret(
    state: Data<AppState>,
    id: Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id("webhook", &id)?;
    let secret = webhooks::rotate_secret(&state.db().await?, id, &Secret::generate())
        .await?
        .ok_or_else(|| not_found_id("webhook", id))?;
    Ok(HttpResponse::Ok().json(SecretBody { secret }))
}

#[derive(Serialize)]
struct Requeued {
    requeued: u64,
}

pub async fn retry_failed(
    state: Data<AppState>,
    id: Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id("webhook", &id)?;
    let since = Query::parse(req.query_string())?.time("since")?;
    let requeued = webhooks::retry_failed(&state.db().await?, id, since)
        .await?
        .ok_or_else(|| not_found_id("webhook", id))?;
    if requeued > 0 {
        state.wakeup.new_work();
    }
    Ok(HttpResponse::Accepted().json(Requeued { requeued }))
}
