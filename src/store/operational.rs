//! hookrelay's own events: `hookrelay.webhook.disabled`,
//! `hookrelay.webhook.recovered` and `hookrelay.delivery.dead_lettered`.
//!
//! Each is an ordinary event of the tenant it concerns (so a customer can route
//! alerts about its own endpoints to another endpoint of its own) and, for any
//! tenant but `default`, once more of tenant `default`, the operator's: a
//! tenant never reads a notice about another tenant, and the operator reads
//! them all. They are inserted by the statement `POST /events` uses (`ingest::insert_events`, sql/event_insert.sql), so they
//! are fanned out, durable, signed and retried like any other; there `"*"`
//! does not match types under `hookrelay.`, so only webhooks that name them
//! get them. Each is inserted in the transaction of the change it announces,
//! which commits both or neither: no notice is missed, and a transaction tried
//! again after a failure finds the change made (or not) and repeats nothing.
//!
//! A delivery of a `hookrelay.*` event that fails emits no dead-lettered event
//! (sql/dead_letters.sql): an operator's webhook that is down would otherwise
//! dead-letter the notices of its own dead letters, forever.

use chrono::{DateTime, SecondsFormat, Utc};
use deadpool_postgres::GenericClient;
use serde_json::{json, Value};
use uuid::Uuid;

use super::ingest::{insert_events, Traces};
use super::StoreError;
use crate::domain::DEFAULT_TENANT;
use crate::sql;

pub const WEBHOOK_DISABLED: &str = "hookrelay.webhook.disabled";
pub const WEBHOOK_RECOVERED: &str = "hookrelay.webhook.recovered";
pub const DELIVERY_DEAD_LETTERED: &str = "hookrelay.delivery.dead_lettered";

/// Emits a `hookrelay.delivery.dead_lettered` event for each of `deliveries`
/// that is `failed` now, in `client`'s transaction.
pub async fn dead_lettered(
    client: &impl GenericClient,
    deliveries: &[Uuid],
) -> Result<(), StoreError> {
    if deliveries.is_empty() {
        return Ok(());
    }
    let stmt = client.prepare_cached(sql::DEAD_LETTERS).await?;
    let rows = client.query(&stmt, &[&deliveries]).await?;
    let payloads: Vec<Value> = rows
        .iter()
        .map(|r| {
            let status_code: Option<i32> = r.get("last_status_code");
            let error: Option<String> = r.get("last_error");
            let reason = match (status_code, error) {
                (Some(code), Some(error)) => format!("{error} (last answer: HTTP {code})"),
                (Some(code), None) => format!("HTTP {code}"),
                (None, Some(error)) => error,
                (None, None) => "unknown".into(),
            };
            json!({
                "type": DELIVERY_DEAD_LETTERED,
                "tenant": r.get::<_, String>("tenant"),
                "webhook_id": r.get::<_, Uuid>("webhook_id"),
                "url": r.get::<_, String>("url"),
                "reason": reason,
                "delivery_id": r.get::<_, Uuid>("delivery_id"),
                "event_id": r.get::<_, Uuid>("event_id"),
                "event_type": r.get::<_, String>("event_type"),
                "attempts": r.get::<_, i32>("attempts"),
                "last_status_code": status_code,
            })
        })
        .collect();
    emit(client, DELIVERY_DEAD_LETTERED, &payloads).await
}

/// Emits `hookrelay.webhook.disabled` for a webhook auto-disable just turned off.
pub async fn webhook_disabled(
    client: &impl GenericClient,
    tenant: &str,
    webhook_id: Uuid,
    url: &str,
    reason: &str,
    failing_since: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    let payload = json!({
        "type": WEBHOOK_DISABLED,
        "tenant": tenant,
        "webhook_id": webhook_id,
        "url": url,
        "reason": reason,
        "failing_since": failing_since,
    });
    emit(client, WEBHOOK_DISABLED, &[payload]).await
}

/// Emits `hookrelay.webhook.recovered` for a webhook that answered 2xx after a
/// run of failures during which the breaker paused it.
pub async fn webhook_recovered(
    client: &impl GenericClient,
    tenant: &str,
    webhook_id: Uuid,
    url: &str,
    failing_since: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    let since = failing_since
        .map(|t| format!(" since {}", t.to_rfc3339_opts(SecondsFormat::Secs, true)))
        .unwrap_or_default();
    let payload = json!({
        "type": WEBHOOK_RECOVERED,
        "tenant": tenant,
        "webhook_id": webhook_id,
        "url": url,
        "reason": format!("answered 2xx again after every attempt failed{since}, long enough for the receiver to be paused"),
        "failing_since": failing_since,
    });
    emit(client, WEBHOOK_RECOVERED, &[payload]).await
}

/// Inserts one event per payload into the tenant its `tenant` field names and,
/// for any tenant but `default`, a copy into `default`.
async fn emit(
    client: &impl GenericClient,
    event_type: &str,
    payloads: &[Value],
) -> Result<(), StoreError> {
    let mut tenants = Vec::with_capacity(payloads.len() * 2);
    let mut bodies = Vec::with_capacity(payloads.len() * 2);
    for payload in payloads {
        let tenant = payload["tenant"].as_str().unwrap_or(DEFAULT_TENANT);
        let body = payload.to_string();
        if tenant != DEFAULT_TENANT {
            tenants.push(tenant);
            bodies.push(body.clone());
        }
        tenants.push(DEFAULT_TENANT);
        bodies.push(body);
    }
    if bodies.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = bodies.iter().map(|_| Uuid::now_v7()).collect();
    let types = vec![event_type; bodies.len()];
    let bodies: Vec<&str> = bodies.iter().map(String::as_str).collect();
    insert_events(
        client,
        &ids,
        &types,
        &bodies,
        &tenants,
        &vec![None; ids.len()],
        &Traces::default(),
    )
    .await?;
    Ok(())
}
