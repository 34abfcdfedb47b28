//! Webhooks: register, change, delete, rotate the secret, send a test event,
//! requeue dead letters. Each change is announced to this process's workers
//! (`Targets`) before it returns, so every attempt that starts after the
//! caller is answered sees it; other processes hear it by NOTIFY.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{catalog, ServiceError};
use crate::api::AppState;
use crate::delivery::guard;
use crate::domain::{
    self, parse_description, CustomHeaders, EventType, EventTypeFilter, Secret, TenantKey,
    WebhookUrl, TEST_EVENT_TYPE,
};
use crate::store::webhooks::{self, NewWebhook, TestEvent, Webhook, WebhookChanges};
use crate::store::Scope;

/// A new webhook as given, before any check.
#[derive(Debug, Default)]
pub struct WebhookInput {
    pub url: String,
    pub event_types: Vec<String>,
    pub description: Option<String>,
    pub secret: Option<String>,
    pub enabled: Option<bool>,
    pub rate_limit: Option<i64>,
    pub max_in_flight: Option<i64>,
    pub headers: Option<BTreeMap<String, String>>,
}

/// A change as given; `None` keeps a field, `Some(None)` clears the ones
/// that can be cleared.
#[derive(Debug, Default)]
pub struct WebhookEdit {
    pub url: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub enabled: Option<bool>,
    pub description: Option<Option<String>>,
    pub rate_limit: Option<Option<i64>>,
    pub max_in_flight: Option<Option<i64>>,
    /// Replaces every header; a value given as `"••••"` keeps the stored one.
    pub headers: Option<Option<BTreeMap<String, String>>>,
}

pub fn parse_url(state: &AppState, raw: &str) -> Result<WebhookUrl, ServiceError> {
    let url = WebhookUrl::parse(raw).map_err(|e| ServiceError::invalid("url", e))?;
    if !state.config.allow_private_targets {
        if let Some(ip) = guard::literal_ip(&url) {
            if guard::is_forbidden(ip) {
                return Err(ServiceError::invalid(
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

fn parse_rate_limit(raw: Option<i64>) -> Result<Option<i32>, ServiceError> {
    raw.map(|r| match i32::try_from(r) {
        Ok(r) if (1..=MAX_RATE_LIMIT).contains(&i64::from(r)) => Ok(r),
        _ => Err(ServiceError::invalid(
            "rate_limit",
            format!("must be an integer from 1 to {MAX_RATE_LIMIT} (attempts per second), or null for no limit; got {r}"),
        )),
    })
    .transpose()
}

fn parse_max_in_flight(raw: Option<i64>) -> Result<Option<i32>, ServiceError> {
    raw.map(|n| match i32::try_from(n) {
        Ok(n) if (1..=1000).contains(&n) => Ok(n),
        _ => Err(ServiceError::invalid(
            "max_in_flight",
            format!("must be an integer from 1 to 1000 (attempts under way at once), or null for the default; got {n}"),
        )),
    })
    .transpose()
}

fn parse_event_types(raw: &[String]) -> Result<EventTypeFilter, ServiceError> {
    EventTypeFilter::parse(raw).map_err(|e| ServiceError::invalid("event_types", e))
}

fn parse_optional_description(raw: Option<&str>) -> Result<Option<String>, ServiceError> {
    raw.map(|d| parse_description(d).map_err(|e| ServiceError::invalid("description", e)))
        .transpose()
}

/// Registers a webhook for `tenant`; returns it with its secret, which no
/// read shows again but `GET /webhooks/{id}/secret`.
pub async fn create(
    state: &AppState,
    tenant: TenantKey,
    input: WebhookInput,
) -> Result<(Webhook, Secret), ServiceError> {
    let secret = match &input.secret {
        Some(s) => Secret::parse(s).map_err(|e| ServiceError::invalid("secret", e))?,
        None => Secret::generate(),
    };
    let new = NewWebhook {
        tenant: tenant.clone(),
        url: parse_url(state, &input.url)?,
        event_types: parse_event_types(&input.event_types)?,
        description: parse_optional_description(input.description.as_deref())?,
        enabled: input.enabled.unwrap_or(true),
        secret: secret.clone(),
        rate_limit: parse_rate_limit(input.rate_limit)?,
        max_in_flight: parse_max_in_flight(input.max_in_flight)?,
        headers: CustomHeaders::parse(input.headers.unwrap_or_default())
            .map_err(|e| ServiceError::invalid("headers", e))?,
    };
    catalog::require_listed(state, &new.event_types).await?;
    let webhook = webhooks::insert(&state.db().await?, new, &state.config.keys)
        .await?
        .ok_or_else(|| {
            let shown: String = tenant.as_str().chars().take(64).collect();
            ServiceError::invalid(
                "tenant",
                format!("no tenant {shown:?} (PUT /tenants/{{key}} creates one)"),
            )
        })?;
    Ok((webhook, secret))
}

/// A change as given, checked: what `change` applies.
pub fn parse_edit(state: &AppState, edit: WebhookEdit) -> Result<WebhookChanges, ServiceError> {
    Ok(WebhookChanges {
        url: edit
            .url
            .as_deref()
            .map(|u| parse_url(state, u))
            .transpose()?,
        event_types: edit
            .event_types
            .as_deref()
            .map(parse_event_types)
            .transpose()?,
        enabled: edit.enabled,
        description: edit
            .description
            .map(|d| parse_optional_description(d.as_deref()))
            .transpose()?,
        rate_limit: edit.rate_limit.map(parse_rate_limit).transpose()?,
        max_in_flight: edit.max_in_flight.map(parse_max_in_flight).transpose()?,
        headers: edit
            .headers
            .map(|h| {
                CustomHeaders::parse_change(h.unwrap_or_default())
                    .map_err(|e| ServiceError::invalid("headers", e))
            })
            .transpose()?,
    })
}

/// Applies a change: the catalog's say on its types, the write, and the
/// workers told before anyone is answered.
pub async fn change(
    state: &AppState,
    scope: Scope<'_>,
    id: Uuid,
    changes: &WebhookChanges,
) -> Result<Webhook, ServiceError> {
    if let Some(types) = &changes.event_types {
        catalog::require_listed(state, types).await?;
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
    .ok_or_else(|| ServiceError::no("webhook", id))?;
    // Before answering: every attempt that starts after this returns sees the change.
    state.targets.announce(id, version);
    if enabling {
        // Its held deliveries are due again.
        state.wakeup.new_work();
    }
    Ok(webhook)
}

/// Deletes a webhook. When this returns nothing more is sent to it: attempts
/// under way have finished or been handed back. Its history goes in the
/// background.
pub async fn delete(state: &AppState, scope: Scope<'_>, id: Uuid) -> Result<(), ServiceError> {
    let version = webhooks::delete(&mut state.db().await?, id, scope)
        .await?
        .ok_or_else(|| ServiceError::no("webhook", id))?;
    // No attempt starts here from now on; other processes hear it by NOTIFY.
    state.targets.announce(id, version);
    // A claimed delivery is sent within its lease or not at all (the
    // executor's latest start): one lease bounds the wait.
    let wait = state.config.lease + std::time::Duration::from_secs(1);
    webhooks::wait_until_idle(&state.pool, id, wait).await?;
    // The retention sweep finishes the job if this process stops first.
    let pool = state.pool.clone();
    tokio::spawn(async move {
        let purged =
            async { crate::retention::purge_deleted_webhooks(&pool.get().await?).await }.await;
        if let Err(e) = purged {
            tracing::warn!(error = %e, webhook_id = %id, "could not purge a deleted webhook yet; the retention sweep will");
        }
    });
    Ok(())
}

/// A new secret, announced to the workers before anyone is answered; the
/// old one keeps signing for 24 hours. Returns the new one.
pub async fn rotate(state: &AppState, scope: Scope<'_>, id: Uuid) -> Result<String, ServiceError> {
    let new = Secret::generate();
    let (secret, version) =
        webhooks::rotate_secret(&state.db().await?, id, scope, &new, &state.config.keys)
            .await?
            .ok_or_else(|| ServiceError::no("webhook", id))?;
    state.targets.announce(id, version);
    Ok(secret)
}

/// A test event to this webhook alone; returns its delivery's id. A type
/// other than `hookrelay.test` goes through the catalog as POST /events does
/// (its schema, HOOKRELAY_REQUIRE_EVENT_TYPES), with the payload it will
/// carry: the one given, else the default. A disabled webhook refuses it
/// rather than holding it: a test is asked for to see a delivery now.
pub async fn test_event(
    state: &AppState,
    scope: Scope<'_>,
    id: Uuid,
    event_type: &EventType,
    payload: Option<domain::Payload<'_>>,
) -> Result<Uuid, ServiceError> {
    if event_type.as_str() != TEST_EVENT_TYPE {
        let default;
        let checked = match &payload {
            Some(p) => p.raw(),
            // As sql/webhook_test_event.sql makes it.
            None => {
                default = serde_json::value::to_raw_value(
                    &serde_json::json!({"test": true, "webhook_id": id}),
                )
                .map_err(|e| ServiceError::invalid("payload", e))?;
                &*default
            }
        };
        catalog::admit_event(state, event_type, checked).await?;
    }
    let sent = webhooks::send_test(&state.db().await?, id, scope, event_type, payload)
        .await
        .map_err(catalog::payload_rejected)?;
    match sent {
        TestEvent::Queued(delivery_id) => {
            state.wakeup.new_work();
            Ok(delivery_id)
        }
        TestEvent::NotFound => Err(ServiceError::no("webhook", id)),
        TestEvent::Disabled => Err(ServiceError::Conflict(format!(
            "webhook {id} is disabled: it gets no deliveries, test events included; enable it first"
        ))),
    }
}

/// Every failed delivery of the webhook (since `since`) back in the queue;
/// returns how many.
pub async fn requeue_failed(
    state: &AppState,
    scope: Scope<'_>,
    id: Uuid,
    since: Option<DateTime<Utc>>,
) -> Result<u64, ServiceError> {
    let requeued = webhooks::retry_failed(&state.db().await?, id, scope, since)
        .await?
        .ok_or_else(|| ServiceError::no("webhook", id))?;
    if requeued > 0 {
        state.wakeup.new_work();
    }
    Ok(requeued)
}
