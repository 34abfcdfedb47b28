//! Recording finished attempts, many per statement.
//!
//! A batch in which a delivery reaches `failed` is written in a transaction
//! with its `hookrelay.delivery.dead_lettered` events, so a dead letter is
//! never recorded without its notice (nor the notice without it). Every other
//! batch is the one statement, as before.

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
    /// This attempt's failure made the circuit breaker pause the webhook.
    pub paused: bool,
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
}

/// Writes a batch of completions: in one statement, or, when some delivery
/// reaches `failed`, in a transaction with its dead-lettered events.
pub async fn complete(client: &mut Client, batch: &[Completion]) -> Result<Written, StoreError> {
    if batch.iter().all(|c| c.status != Status::Failed) {
        return write(&*client, batch).await;
    }
    let tx = client.transaction().await?;
    let written = write(&tx, batch).await?;
    let failed: Vec<Uuid> = batch
        .iter()
        .filter(|c| c.status == Status::Failed && written.accepted.contains(&c.id))
        .map(|c| c.id)
        .collect();
    operational::dead_lettered(&tx, &failed).await?;
    tx.commit().await?;
    Ok(written)
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
        written.runs.insert(row.get("webhook_id"), run);
    }
    Ok(written)
}
