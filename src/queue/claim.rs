//! Claiming due deliveries, and finding when the next one falls due.

use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::sql;
use crate::store::{Client, StoreError};

/// A claimed delivery: the event it carries, and which webhook it goes to. The
/// webhook's URL and secrets are not copied here: they may change before the
/// attempt starts, which reads them then (`delivery::targets`).
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: Uuid,
    pub webhook_id: Uuid,
    /// The tenant of the webhook and the event.
    pub tenant: String,
    /// The value of `attempts` after the claim: this attempt's number and the lease token.
    pub attempt: i32,
    /// This attempt's number within the current retry budget (1 = first try).
    pub attempt_in_budget: i32,
    /// The webhook's version when the claim was taken.
    pub webhook_version: i64,
    pub event_type: String,
    pub payload: String,
    pub event_created_at: DateTime<Utc>,
}

/// How a claim must spread over webhooks (see `sql/claim_due.sql`).
pub struct Spread<'a> {
    /// Webhooks to take nothing of now.
    pub excluded: &'a [Uuid],
    /// Webhooks with deliveries in flight here, and how many.
    pub busy: &'a [Uuid],
    pub busy_counts: &'a [i32],
    /// Most in flight per webhook.
    pub cap: i32,
    /// The same for tenants: to take nothing of; with deliveries in flight
    /// here, and how many; most in flight per tenant.
    pub excluded_tenants: &'a [String],
    pub busy_tenants: &'a [String],
    pub busy_tenant_counts: &'a [i32],
    pub tenant_cap: i32,
}

/// Claims up to `limit` due deliveries and leases them for `lease`.
pub async fn claim(
    client: &Client,
    limit: usize,
    lease: Duration,
    spread: &Spread<'_>,
) -> Result<Vec<Claimed>, StoreError> {
    let stmt = client.prepare_cached(sql::CLAIM_DUE).await?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let look_ahead = look_ahead(limit);
    let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
    let rows = client
        .query(
            &stmt,
            &[
                &limit,
                &lease_ms,
                &spread.excluded,
                &look_ahead,
                &spread.busy,
                &spread.busy_counts,
                &spread.cap,
                &spread.excluded_tenants,
                &spread.busy_tenants,
                &spread.busy_tenant_counts,
                &spread.tenant_cap,
            ],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| Claimed {
            id: r.get("id"),
            webhook_id: r.get("webhook_id"),
            tenant: r.get("tenant"),
            attempt: r.get("attempts"),
            attempt_in_budget: r.get("attempt_in_budget"),
            webhook_version: r.get("webhook_version"),
            event_type: r.get("event_type"),
            payload: r.get("payload"),
            event_created_at: r.get("event_created_at"),
        })
        .collect())
}

/// How far a claim of `limit` looks ahead in the queue: a few batches, so a
/// backlog of capped webhooks cannot hide the rest.
fn look_ahead(limit: i64) -> i64 {
    limit.saturating_mul(4).max(64)
}

/// Moves the due rows of webhooks that may take nothing now, that a claim of
/// `limit` would meet, to when each is expected to be taken: `resume_in_ms`,
/// then one every `spacing_ms` (a rate limit's slots; 0 for a pause). Returns
/// how many moved.
pub async fn defer_paused(
    client: &Client,
    paused: &[Uuid],
    resume_in_ms: &[i64],
    spacing_ms: &[i64],
    limit: usize,
) -> Result<u64, StoreError> {
    let stmt = client.prepare_cached(sql::DEFER_PAUSED).await?;
    let look_ahead = look_ahead(i64::try_from(limit).unwrap_or(i64::MAX));
    Ok(client
        .execute(&stmt, &[&paused, &resume_in_ms, &look_ahead, &spacing_ms])
        .await?)
}

/// Takes the next send slot of a webhook limited to one attempt every
/// `spacing`, shared by every process; returns how long until it starts.
pub async fn take_rate_slot(
    client: &Client,
    webhook_id: Uuid,
    spacing: Duration,
) -> Result<Duration, StoreError> {
    let stmt = client.prepare_cached(sql::RATE_SLOT_TAKE).await?;
    let spacing_us = i64::try_from(spacing.as_micros()).unwrap_or(i64::MAX);
    let row = client.query_one(&stmt, &[&webhook_id, &spacing_us]).await?;
    let wait_us: i64 = row.get("wait_us");
    Ok(Duration::from_micros(u64::try_from(wait_us).unwrap_or(0)))
}

/// How long until the earliest pending delivery outside the `excluded`
/// webhooks and `excluded_tenants` is due (zero if one is due now), or `None`
/// when none is pending.
pub async fn next_due(
    client: &Client,
    excluded: &[Uuid],
    excluded_tenants: &[String],
) -> Result<Option<Duration>, StoreError> {
    let stmt = client.prepare_cached(sql::NEXT_DUE).await?;
    let wait_ms: Option<i64> = client
        .query_one(&stmt, &[&excluded, &excluded_tenants])
        .await?
        .get("wait_ms");
    Ok(wait_ms.map(|ms| Duration::from_millis(u64::try_from(ms).unwrap_or(0))))
}
