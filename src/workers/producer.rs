//! The producer: keeps up to `PREFETCH` × `HOOKRELAY_WORKERS` deliveries
//! claimed, and spawns an executor for each claim.
//!
//! When claim slots are free it claims that many in one transaction
//! (`queue::claim`, which decides who goes next and keeps every limit). While
//! the queue is busy it lets freed slots gather for `GATHER` first, so a
//! claim is one statement for many deliveries rather than one each. When
//! nothing more can be claimed it sleeps until the next due time the
//! database knows of, a wake-up (new work from the API, in this process or,
//! through NOTIFY, another; a completion that freed a lane; a retry
//! scheduled), or the poll interval, with jitter so replicas do not poll in
//! lockstep. An idle pool costs one small query per interval.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::sync::{mpsc, Semaphore};
use tokio_util::task::TaskTracker;
use uuid::Uuid;

use super::executor::{self, Claim};
use super::{lock, Backoff, Shared, MAX_BATCH, PREFETCH};
use crate::queue::{self, Claimed, Completion};

/// While the queue is busy, how long the producer lets freed workers gather
/// before claiming for them.
const GATHER: Duration = Duration::from_millis(2);

pub(super) async fn run(
    shared: Arc<Shared>,
    executors: TaskTracker,
    done: mpsc::Sender<Completion>,
) {
    let slots = Arc::new(Semaphore::new(shared.config.workers * PREFETCH));
    let mut backoff = Backoff(0);
    // True while the queue has more due work than free workers.
    let mut busy = false;
    // Where the last claim's sweep of the lanes stopped: the next goes on from there.
    let mut cursor: Option<Uuid> = None;
    let mut round = Round::default();
    loop {
        let first = tokio::select! {
            permit = slots.clone().acquire_owned() => match permit { Ok(p) => p, Err(_) => return },
            _ = shared.stop_claiming.cancelled() => return,
        };
        if busy {
            // Workers free up one at a time; a claim per freed worker would cost a
            // statement per delivery. Let a few finish, and claim for all of them.
            tokio::time::sleep(GATHER).await;
        }
        let mut permits = vec![first];
        while permits.len() < MAX_BATCH {
            match slots.clone().try_acquire_owned() {
                Ok(p) => permits.push(p),
                Err(_) => break,
            }
        }
        let asked = permits.len();
        let claimed = async {
            let mut client = shared.pool.get().await?;
            queue::claim(&mut client, asked, &shared.limits, cursor).await
        }
        .await;
        let claim = match claimed {
            Ok(c) => {
                backoff = Backoff(0);
                c
            }
            Err(e) => {
                drop(permits);
                let wait = backoff.next();
                tracing::warn!(error = %e, retry_in = ?wait, "could not claim deliveries");
                tokio::select! {
                    _ = tokio::time::sleep(wait) => continue,
                    _ = shared.stop_claiming.cancelled() => return,
                }
            }
        };
        let got = claim.deliveries.len();
        busy = got == asked;
        // Lanes the sweep did not reach may have due work: go on at once,
        // unless the claims since the last that took anything went all round.
        let more = round.go_on(cursor, &claim);
        cursor = claim.cursor;
        let contended = claim.contended;
        load_targets(&shared, &claim.deliveries).await;
        {
            let mut in_flight = lock(&shared.in_flight);
            for d in &claim.deliveries {
                in_flight.insert(d.id, d.attempt);
            }
        }
        for (delivery, permit) in claim.deliveries.into_iter().zip(permits) {
            let claim = Claim {
                delivery,
                _slot: permit,
            };
            executors.spawn(executor::run(shared.clone(), claim, done.clone()));
        }
        if got < asked && !more {
            idle(&shared, contended).await;
        }
    }
}

/// How long the producer rests when due work may be claimable soon: a lane
/// another claim held.
const SHORT_REST: Duration = Duration::from_millis(5);

/// A run of claims whose sweeps were cut short and took nothing: once they
/// have gone all round the lanes (in webhook id order, wrapping), every lane
/// with due work was seen blocked, and the producer rests.
#[derive(Debug, Default)]
struct Round {
    /// Where the run began; `None` while no run is under way.
    start: Option<Uuid>,
    wrapped: bool,
}

impl Round {
    /// Whether to claim again at once after `claim`, which began at `from`.
    fn go_on(&mut self, from: Option<Uuid>, claim: &queue::Claim) -> bool {
        if !claim.cut {
            self.start = None;
            return false;
        }
        if !claim.deliveries.is_empty() {
            self.start = None;
            return true;
        }
        let from = from.unwrap_or(Uuid::nil());
        let to = claim.cursor.unwrap_or(Uuid::nil());
        let start = *self.start.get_or_insert_with(|| {
            self.wrapped = false;
            from
        });
        if to <= from {
            self.wrapped = true;
        }
        if self.wrapped && to >= start {
            self.start = None;
            return false;
        }
        true
    }
}

/// Sleeps until something may be claimable, a wake-up, or the poll interval;
/// `soon`: due work may be claimable shortly, so rest only briefly.
async fn idle(shared: &Shared, soon: bool) {
    let poll = shared.config.poll_interval;
    if soon {
        tokio::select! {
            _ = tokio::time::sleep(SHORT_REST) => {}
            _ = shared.stop_claiming.cancelled() => {}
        }
        return;
    }
    let jitter = poll.mul_f64(rand::thread_rng().gen_range(0.9..1.1));
    let next_due = async {
        let client = shared.pool.get().await?;
        queue::next_due(&client).await
    }
    .await
    .unwrap_or(None);
    let wait = next_due.map_or(jitter, |d| d.max(SHORT_REST).min(jitter));
    tokio::select! {
        _ = tokio::time::sleep(wait) => {}
        _ = shared.wake.notified() => {}
        _ = shared.stop_claiming.cancelled() => {}
    }
}

/// After a claim: reads, in one statement, the webhooks the claim names that
/// are not cached at the version it saw. If that fails, each attempt reads its
/// own when it starts.
async fn load_targets(shared: &Shared, claimed: &[Claimed]) {
    let missing = shared
        .targets
        .missing(claimed.iter().map(|d| (d.webhook_id, d.webhook_version)));
    if missing.is_empty() {
        return;
    }
    let loaded = async {
        let client = shared.pool.get().await?;
        shared.targets.load(&client, &missing).await
    }
    .await;
    if let Err(e) = loaded {
        tracing::debug!(error = %e, "could not read the claimed webhooks; attempts will");
    }
}
