//! A webhook's run of failed attempts: what auto-disable and
//! `hookrelay.webhook.recovered` are decided on.
//!
//! An attempt fails unless the receiver answered 2xx: any other status (a 410
//! too), a redirect, a timeout, a refused or reset connection, a DNS failure,
//! an address the guard refuses. A run begins with the first failed attempt
//! after a 2xx (or ever) and ends with the next 2xx. Each webhook's row holds
//! its current run (migrations/0008_auto_disable.sql): when it began, its first
//! error, its failed attempts counted up to `ENOUGH_ATTEMPTS`, and whether the
//! circuit breaker paused the receiver during it. Attempts lost with their
//! process (the rescuer logs them) say nothing about the receiver and count
//! for nothing.
//!
//! The batch statement hands back each webhook's run as it stood; `changes`
//! compares it with the batch's outcomes, and only a webhook whose run begins,
//! ends, counts towards ten or sees its first pause is written. A healthy
//! webhook, and one that has been failing for a while, cost the completer
//! nothing more. Each change is a short transaction of its own, after the
//! batch committed: a process that dies in between leaves the run as it was,
//! which the webhook's next outcomes change the same way.
//!
//! `hookrelay.webhook.recovered` is the first 2xx after a run during which the
//! breaker paused the receiver (any process's breaker: the pause is recorded
//! on the row), emitted in the transaction that ends the run, so it is sent
//! once per run however many processes share the database.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::complete::{Completion, Status, Written};
use crate::sql;
use crate::store::{operational, transient, Client, StoreError};

/// Failed attempts a run needs before auto-disable may end it; the count on
/// the row stops here, so a long outage does not write it on every attempt.
pub const ENOUGH_ATTEMPTS: i32 = 10;

/// How one batch changes one webhook's run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub webhook_id: Uuid,
    /// The batch had a 2xx for it: the run ends (and may begin again after it).
    pub succeeded: bool,
    /// The breaker paused the webhook before the batch's last 2xx.
    pub paused_before_success: bool,
    /// The failures after the batch's last 2xx (all of them, without one): when
    /// the first began, what it was, how many, and whether one paused the webhook.
    pub failing_from: Option<DateTime<Utc>>,
    pub first_error: Option<String>,
    pub failures: i32,
    pub paused: bool,
}

/// The webhooks whose run this batch changes (usually none), by id.
pub fn changes(batch: &[Completion], written: &Written) -> Vec<Change> {
    let all_healthy = batch.iter().all(|c| c.status == Status::Success)
        && written.runs.values().all(|r| !r.failing);
    if all_healthy {
        return Vec::new();
    }
    let mut by_webhook: HashMap<Uuid, Vec<&Completion>> = HashMap::new();
    for c in batch.iter().filter(|c| written.accepted.contains(&c.id)) {
        by_webhook.entry(c.webhook_id).or_default().push(c);
    }
    let mut changes: Vec<Change> = by_webhook
        .into_iter()
        .filter_map(|(webhook_id, mut attempts)| {
            let run = written.runs.get(&webhook_id)?;
            attempts.sort_by_key(|c| c.started_at);
            let last_success = attempts.iter().rposition(|c| c.status == Status::Success);
            let (before, after) = attempts.split_at(last_success.map_or(0, |i| i + 1));
            let change = Change {
                webhook_id,
                succeeded: last_success.is_some(),
                paused_before_success: before.iter().any(|c| c.paused),
                failing_from: after.first().map(|c| c.started_at),
                first_error: after.first().map(|c| c.failure()),
                failures: i32::try_from(after.len()).unwrap_or(i32::MAX),
                paused: after.iter().any(|c| c.paused),
            };
            let ends = change.succeeded && (run.failing || change.paused_before_success);
            let counts = change.failures > 0
                && (change.succeeded || !run.failing || run.attempts < ENOUGH_ATTEMPTS);
            let first_pause = change.paused && (change.succeeded || !run.paused);
            (ends || counts || first_pause).then_some(change)
        })
        .collect();
    changes.sort_by_key(|c| c.webhook_id);
    changes
}

/// Writes each change (sql/webhook_failing.sql), with its recovered event if
/// it ends a paused run; returns how many recovered.
pub async fn record(client: &mut Client, changes: &[Change]) -> Result<usize, StoreError> {
    let mut recovered = 0;
    for change in changes {
        let mut tries = 0;
        loop {
            match record_one(client, change).await {
                Err(e) if transient(&e, &mut tries).await => continue,
                Err(e) => return Err(e),
                Ok(r) => {
                    recovered += usize::from(r);
                    break;
                }
            }
        }
    }
    Ok(recovered)
}

async fn record_one(client: &mut Client, c: &Change) -> Result<bool, StoreError> {
    let tx = client.transaction().await?;
    let stmt = tx.prepare_cached(sql::WEBHOOK_FAILING).await?;
    let row = tx
        .query_opt(
            &stmt,
            &[
                &c.webhook_id,
                &c.succeeded,
                &c.paused_before_success,
                &c.failing_from,
                &c.first_error,
                &c.failures,
                &c.paused,
                &ENOUGH_ATTEMPTS,
            ],
        )
        .await?;
    let recovered = row.as_ref().is_some_and(|r| r.get::<_, bool>("recovered"));
    if let (true, Some(row)) = (recovered, &row) {
        let url: String = row.get("url");
        let tenant: String = row.get("tenant");
        operational::webhook_recovered(&tx, &tenant, c.webhook_id, &url, row.get("failing_since"))
            .await?;
    }
    tx.commit().await?;
    Ok(recovered)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::complete::Run;
    use super::*;

    fn attempt(webhook_id: Uuid, ms: i64, status: Status, paused: bool) -> Completion {
        Completion {
            id: Uuid::new_v4(),
            webhook_id,
            attempt: 1,
            status,
            retry_in: Duration::ZERO,
            status_code: Some(if status == Status::Success { 200 } else { 500 }),
            error: None,
            started_at: DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::milliseconds(ms),
            duration_ms: 1,
            response_body: None,
            healthy: status == Status::Success,
            paused,
            ordered: false,
            request_headers: None,
        }
    }

    fn written(batch: &[Completion], run: Run) -> Written {
        Written {
            accepted: batch.iter().map(|c| c.id).collect(),
            runs: batch.iter().map(|c| (c.webhook_id, run)).collect(),
            tripped: Default::default(),
        }
    }

    const HEALTHY: Run = Run {
        failing: false,
        attempts: 0,
        paused: false,
    };

    #[test]
    fn steady_batches_change_nothing() {
        let w = Uuid::new_v4();
        let ok = vec![attempt(w, 1, Status::Success, false)];
        assert!(changes(&ok, &written(&ok, HEALTHY)).is_empty());
        let failing = Run {
            failing: true,
            attempts: ENOUGH_ATTEMPTS,
            paused: true,
        };
        let bad = vec![
            attempt(w, 1, Status::Pending, false),
            attempt(w, 2, Status::Failed, true),
        ];
        assert!(changes(&bad, &written(&bad, failing)).is_empty());
    }

    #[test]
    fn a_run_begins_counts_up_to_enough_and_ends() {
        let w = Uuid::new_v4();
        let bad = vec![
            attempt(w, 2, Status::Pending, false),
            attempt(w, 1, Status::Pending, false),
        ];
        let begins = changes(&bad, &written(&bad, HEALTHY));
        assert_eq!(begins.len(), 1);
        assert_eq!(begins[0].failures, 2);
        assert_eq!(
            begins[0].failing_from,
            Some(bad[1].started_at),
            "the earliest"
        );
        assert_eq!(begins[0].first_error.as_deref(), Some("HTTP 500"));
        assert!(!begins[0].succeeded);

        let counting = Run {
            failing: true,
            attempts: 3,
            paused: false,
        };
        assert_eq!(changes(&bad, &written(&bad, counting)).len(), 1);

        let ok = vec![attempt(w, 3, Status::Success, false)];
        let ends = changes(&ok, &written(&ok, counting));
        assert_eq!(ends.len(), 1);
        assert!(ends[0].succeeded && ends[0].failing_from.is_none());
    }

    #[test]
    fn failures_after_the_last_success_begin_a_new_run() {
        let w = Uuid::new_v4();
        let batch = vec![
            attempt(w, 1, Status::Pending, true),
            attempt(w, 2, Status::Success, false),
            attempt(w, 3, Status::Pending, false),
        ];
        let c = &changes(&batch, &written(&batch, HEALTHY))[0];
        assert!(c.succeeded && c.paused_before_success && !c.paused);
        assert_eq!((c.failures, c.failing_from), (1, Some(batch[2].started_at)));
    }

    #[test]
    fn outcomes_whose_lease_was_lost_do_not_count() {
        let w = Uuid::new_v4();
        let bad = vec![attempt(w, 1, Status::Pending, false)];
        let mut w = written(&bad, HEALTHY);
        w.accepted.clear();
        assert!(changes(&bad, &w).is_empty());
    }
}
