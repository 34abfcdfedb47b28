//! An executor: one claimed delivery, from its claim to its outcome.
//!
//! It waits for its rate-limit slot if its webhook has one (holding no
//! worker meanwhile), then for a place in its webhook's and its tenant's
//! share of this process (`shares.rs`) and one of the `HOOKRELAY_WORKERS`
//! senders, reads
//! the webhook as it is now (a change announced since the claim applies),
//! sends one attempt with no database connection held, and hands the outcome
//! to the completer. It hands the claim back unsent instead when shutdown
//! begins, when the webhook is disabled or deleted meanwhile, when its
//! breaker tripped after the claim (seen by this process), when it could
//! only start more than `RATE_LATE` after its slot (it would crowd the next
//! second), or when its lease, counted from when the claim was sent, would
//! not outlast the attempt by `START_MARGIN`.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch, OwnedSemaphorePermit};
use tokio::time::Instant;
use tracing::Instrument;
use uuid::Uuid;

use super::{lock, Shared, START_MARGIN};
use crate::delivery::{decide, Attempted, Current, Failure, Outcome, Target};
use crate::otel;
use crate::queue::{self, Claimed, Completion, Release, Status, RATE_LATE};
use crate::store::StoreError;

/// A claimed delivery on its way to an executor.
pub(super) struct Claim {
    pub delivery: Claimed,
    /// One of the producer's claim slots, freed when the executor ends.
    pub _slot: OwnedSemaphorePermit,
}

pub(super) async fn run(shared: Arc<Shared>, claim: Claim, done: mpsc::Sender<Completion>) {
    let d = &claim.delivery;
    let mut changes = shared.targets.changes();
    if let Some(slot) = d.slot {
        if !matches!(
            wait(&shared, d, &mut changes, async {
                tokio::time::sleep_until(slot).await;
                Ok::<_, ()>(())
            })
            .await,
            Waited::Got(())
        ) {
            return;
        }
    }
    let places = shared.shares.enter(d.webhook_id, &d.tenant);
    let places = match wait(&shared, d, &mut changes, async {
        Ok::<_, ()>(places.await)
    })
    .await
    {
        Waited::Got(places) => places,
        Waited::Stopped => return,
    };
    let worker = match wait(
        &shared,
        d,
        &mut changes,
        shared.sending.clone().acquire_owned(),
    )
    .await
    {
        Waited::Got(worker) => (worker, places),
        Waited::Stopped => return,
    };
    // The webhook as it is now: a change announced since the claim applies.
    let target = match target_now(&shared, d.webhook_id).await {
        Ok(Some(target)) => target,
        stopped => {
            drop(worker);
            if let Err(e) = &stopped {
                tracing::warn!(error = %e, webhook_id = %d.webhook_id, "could not read the webhook before an attempt; handing the claim back");
            }
            hand_back(&shared, d, stopped.is_ok()).await;
            return;
        }
    };
    // Checked last, just before the send starts.
    let now = Instant::now();
    let late = d.slot.is_some_and(|slot| now > slot + RATE_LATE);
    let deadline = d.claimed_at + shared.config.lease;
    let tripped = shared.tripped_since(d.webhook_id, d.claimed_at);
    if late || tripped || now + shared.config.delivery_timeout + START_MARGIN > deadline {
        drop(worker);
        hand_back(&shared, d, false).await;
        return;
    }
    shared.metrics.attempt_started();
    // Span::none() unless spans are exported: then instrumenting is free.
    let span = otel::attempt_span(d, &target.url);
    let attempted = tokio::select! {
        a = shared.sender.send(d, &target).instrument(span.clone()) => a,
        _ = shared.abandon.cancelled() => {
            shared.metrics.attempt_finished(None, Duration::ZERO);
            return;
        }
    };
    drop(worker);
    otel::attempted(&span, &attempted);
    drop(span);
    let since_accepted = (chrono::Utc::now() - d.event_created_at)
        .to_std()
        .unwrap_or_default();
    shared
        .metrics
        .attempt_finished(Some(&attempted), since_accepted);
    // Down, from where we stand: no answer, a server error, or "slow down".
    let healthy = match &attempted.result {
        Ok(answer) => answer.status < 500 && answer.status != 429,
        Err(f) => !matches!(
            f,
            Failure::Timeout(_) | Failure::Connect(_) | Failure::Refused(_)
        ),
    };
    shared.answered(d.webhook_id, healthy);
    let outcome = decide(
        &attempted.result,
        d.attempt_in_budget,
        &shared.config.retry_schedule,
    );
    log_attempt(d, &attempted, &outcome);
    // The completer outlives every executor, so this only fails if it crashed;
    // then the lease brings the delivery back.
    let headers = target.headers_sent.clone();
    let _ = done
        .send(completion(d, attempted, outcome, healthy, headers))
        .await;
}

enum Waited<T> {
    Got(T),
    /// Shutdown began (the claim is handed back with the others), or the
    /// webhook was disabled or deleted (the claim was handed back, held).
    Stopped,
}

/// Waits for a slot or a worker, unless shutdown begins or the webhook is
/// disabled or deleted meanwhile: its claims go back then, not when a worker
/// frees up.
async fn wait<T, E>(
    shared: &Shared,
    d: &Claimed,
    changes: &mut watch::Receiver<u64>,
    permit: impl std::future::Future<Output = Result<T, E>>,
) -> Waited<T> {
    tokio::pin!(permit);
    loop {
        tokio::select! {
            p = &mut permit => match p {
                Ok(p) => return Waited::Got(p),
                Err(_) => return Waited::Stopped,
            },
            _ = shared.stop_claiming.cancelled() => return Waited::Stopped,
            Ok(()) = changes.changed() => {
                if matches!(shared.targets.current(d.webhook_id), Current::Stop) {
                    hand_back(shared, d, true).await;
                    return Waited::Stopped;
                }
            }
        }
    }
}

/// Returns a claim that will not be attempted now: back to pending, due now,
/// the attempt uncounted; held (`hold`) if its webhook was found disabled. If
/// the release fails, the lease brings it back later.
async fn hand_back(shared: &Shared, d: &Claimed, hold: bool) {
    let claim = Release {
        id: d.id,
        attempt: d.attempt,
        hold,
    };
    let released = async {
        let client = shared.pool.get().await?;
        queue::release(&client, &[claim]).await
    }
    .await;
    if let Err(e) = released {
        tracing::warn!(error = %e, delivery_id = %d.id, "could not hand back a claim; its lease will expire");
    }
    lock(&shared.in_flight).remove(&d.id);
    shared.wake.notify_one();
}

/// The webhook as an attempt starting now must see it; `None`: disabled or deleted.
async fn target_now(shared: &Shared, webhook_id: Uuid) -> Result<Option<Arc<Target>>, StoreError> {
    match shared.targets.current(webhook_id) {
        Current::Send(t) => return Ok(Some(t)),
        Current::Stop => return Ok(None),
        Current::Unknown => {}
    }
    let client = shared.pool.get().await?;
    let mut answers = shared.targets.load(&client, &[webhook_id]).await?;
    Ok(match answers.remove(&webhook_id) {
        Some(Current::Send(t)) => Some(t),
        _ => None,
    })
}

fn log_attempt(d: &Claimed, a: &Attempted, outcome: &Outcome) {
    let duration_ms = a.duration.as_millis() as u64;
    let result = match outcome {
        Outcome::Delivered => "delivered",
        Outcome::Retry { .. } => "retry",
        Outcome::Failed { .. } => "failed",
    };
    match &a.result {
        Ok(answer) => tracing::info!(
            delivery_id = %d.id, webhook_id = %d.webhook_id, attempt = d.attempt,
            status_code = answer.status, duration_ms, result, "attempt"
        ),
        Err(f) => tracing::info!(
            delivery_id = %d.id, webhook_id = %d.webhook_id, attempt = d.attempt,
            error = %f.message(), duration_ms, result, "attempt"
        ),
    }
}

fn completion(
    d: &Claimed,
    a: Attempted,
    outcome: Outcome,
    healthy: bool,
    request_headers: Option<Arc<str>>,
) -> Completion {
    let (status, retry_in, reason) = match outcome {
        Outcome::Delivered => (Status::Success, Duration::ZERO, None),
        Outcome::Retry { after } => (Status::Pending, after, None),
        Outcome::Failed { reason } => (Status::Failed, Duration::ZERO, Some(reason)),
    };
    let (status_code, error, response_body) = match a.result {
        Ok(answer) => (Some(i32::from(answer.status)), reason, Some(answer.body)),
        Err(f) => (None, Some(f.message()), None),
    };
    Completion {
        id: d.id,
        webhook_id: d.webhook_id,
        attempt: d.attempt,
        status,
        retry_in,
        status_code,
        error,
        started_at: a.started_at,
        duration_ms: i32::try_from(a.duration.as_millis()).unwrap_or(i32::MAX),
        response_body,
        request_headers,
        healthy,
        paused: false,
        ordered: d.ordered,
    }
}
