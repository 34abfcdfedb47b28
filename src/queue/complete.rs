//! Recording finished attempts, many per statement.
//!
//! A batch in which a delivery reaches `failed` is written in a transaction
//! with its `hookrelay.delivery.dead_lettered` events, so a dead letter is
//! never recorded without its notice (nor the notice without it); one that
//! finishes deliveries with an ordering key, with the statement that brings
//! the next of each key forward (sql/ordering_next.sql). Every other batch is
//! the one statement. The statement also keeps each webhook's circuit
//! breaker, in its lane, from whether each receiver looked healthy.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use uuid::Uuid;

use crate::sql;
use crate::store::{operational, Client, StoreError};

/// Where an attempt leaves its delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Success,
    /// Back to pending, due after `Completion::retry_in`.
    Pending,
    Failed,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Success => "success",
            Status::Pending => "pending",
            Status::Failed => "failed",
        }
    }
}

/// Unhealthy answers in a row that trip a webhook's breaker.
pub const TRIP_AFTER: i32 = 5;

/// One finished attempt, as the completer writes it.
#[derive(Debug, Clone)]
pub struct Completion {
    pub id: Uuid,
    pub webhook_id: Uuid,
    pub attempt: i32,
    pub status: Status,
    pub retry_in: Duration,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub started_at: DateTime<Utc>,
    pub duration_ms: i32,
    pub response_body: Option<String>,
    /// The webhook's custom headers the attempt carried, as JSON; shared with
    /// the cached target, so recording them copies nothing.
    pub request_headers: Option<Arc<str>>,
    /// The receiver answered, and not with a 5xx or a 429: the breaker's input.
    pub healthy: bool,
    /// This attempt's failure made the circuit breaker pause the webhook
    /// (set when the batch is written).
    pub paused: bool,
    /// The delivery has an ordering key: finishing it may bring the next forward.
    pub ordered: bool,
}

impl Completion {
    /// What the attempt's failure was, in a few words: "HTTP 500", or why no answer came.
    pub fn failure(&self) -> String {
        match (self.status_code, &self.error) {
            (Some(code), _) => format!("HTTP {code}"),
            (None, Some(error)) => error.clone(),
            (None, None) => "no answer".into(),
        }
    }
}

/// A webhook's run of failures as a batch's write found it (before the batch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    pub failing: bool,
    pub attempts: i32,
    pub paused: bool,
}

/// What a batch's write tells the completer.
#[derive(Debug, Default)]
pub struct Written {
    /// The outcomes whose lease still held; the others changed nothing.
    pub accepted: HashSet<Uuid>,
    /// The run of failures of each webhook with an accepted outcome.
    pub runs: HashMap<Uuid, Run>,
    /// Webhooks whose breaker this batch tripped.
    pub tripped: HashSet<Uuid>,
}

/// Writes a batch of completions: in one statement, or, when some delivery
/// reaches `failed`, in a transaction with its dead-lettered events.
pub async fn complete(
    client: &mut Client,
    batch: &mut [Completion],
) -> Result<Written, StoreError> {
    let finished = |c: &Completion| c.status != Status::Pending;
    let ordered = batch.iter().any(|c| c.ordered && finished(c));
    let written = if batch.iter().all(|c| c.status != Status::Failed) && !ordered {
        write(&*client, batch).await?
    } else {
        let tx = client.transaction().await?;
        let written = write(&tx, batch).await?;
        let accepted = |c: &&Completion| written.accepted.contains(&c.id);
        let failed: Vec<Uuid> = batch
            .iter()
            .filter(|c| c.status == Status::Failed)
            .filter(accepted)
            .map(|c| c.id)
            .collect();
        operational::dead_lettered(&tx, &failed).await?;
        let done: Vec<Uuid> = batch
            .iter()
            .filter(|c| c.ordered && finished(c))
            .filter(accepted)
            .map(|c| c.id)
            .collect();
        ordering_next(&tx, &done).await?;
        tx.commit().await?;
        written
    };
    // The breaker tripped on a webhook's last unhealthy attempt in the batch.
    for webhook in &written.tripped {
        if let Some(c) = batch
            .iter_mut()
            .filter(|c| c.webhook_id == *webhook && !c.healthy)
            .max_by_key(|c| c.started_at)
        {
            c.paused = true;
        }
    }
    Ok(written)
}

/// Brings forward the next delivery of each ordering key that `done` finished.
/// Run after the statement that finished them, in the same transaction.
pub async fn ordering_next(client: &impl GenericClient, done: &[Uuid]) -> Result<u64, StoreError> {
    if done.is_empty() {
        return Ok(0);
    }
    let stmt = client.prepare_cached(sql::ORDERING_NEXT).await?;
    Ok(client.execute(&stmt, &[&done]).await?)
}

async fn write(client: &impl GenericClient, batch: &[Completion]) -> Result<Written, StoreError> {
    // Rows are locked in id order, as every statement that locks many
    // deliveries does, so a completion cannot deadlock with a disable.
    let mut sorted: Vec<&Completion> = batch.iter().collect();
    sorted.sort_unstable_by_key(|c| c.id);
    let batch = sorted;
    let stmt = client.prepare_cached(sql::COMPLETE_BATCH).await?;
    let ids: Vec<Uuid> = batch.iter().map(|c| c.id).collect();
    let attempts: Vec<i32> = batch.iter().map(|c| c.attempt).collect();
    let statuses: Vec<&str> = batch.iter().map(|c| c.status.as_str()).collect();
    let retry_in_ms: Vec<i64> = batch
        .iter()
        .map(|c| i64::try_from(c.retry_in.as_millis()).unwrap_or(i64::MAX))
        .collect();
    let codes: Vec<Option<i32>> = batch.iter().map(|c| c.status_code).collect();
    let errors: Vec<Option<&str>> = batch.iter().map(|c| c.error.as_deref()).collect();
    let started: Vec<DateTime<Utc>> = batch.iter().map(|c| c.started_at).collect();
    let durations: Vec<i32> = batch.iter().map(|c| c.duration_ms).collect();
    let bodies: Vec<Option<&str>> = batch.iter().map(|c| c.response_body.as_deref()).collect();
    let headers: Vec<Option<&str>> = batch.iter().map(|c| c.request_headers.as_deref()).collect();
    let healthy: Vec<bool> = batch.iter().map(|c| c.healthy).collect();
    let rows = client
        .query(
            &stmt,
            &[
                &ids,
                &attempts,
                &statuses,
                &retry_in_ms,
                &codes,
                &errors,
                &started,
                &durations,
                &bodies,
                &headers,
                &healthy,
                &TRIP_AFTER,
            ],
        )
        .await?;
    let mut written = Written::default();
    for row in &rows {
        let accepted: Vec<Uuid> = row.get("accepted");
        written.accepted.extend(accepted);
        let run = Run {
            failing: row.get("failing"),
            attempts: row.get("failing_attempts"),
            paused: row.get("failing_paused"),
        };
        let webhook_id: Uuid = row.get("webhook_id");
        if row.get::<_, bool>("tripped") {
            written.tripped.insert(webhook_id);
        }
        written.runs.insert(webhook_id, run);
    }
    Ok(written)
}
