//! Recording finished attempts, many per statement.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::sql;
use crate::store::{Client, StoreError};

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
}

/// Writes a batch of completions in one statement; returns the ids whose lease
/// still held (the others changed nothing).
pub async fn complete(client: &Client, batch: &[Completion]) -> Result<HashSet<Uuid>, StoreError> {
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
    Ok(rows.iter().map(|r| r.get("delivery_id")).collect())
}
