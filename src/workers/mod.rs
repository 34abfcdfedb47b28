//! The pool of delivery tasks, in River's roles: a producer that claims
//! (`producer.rs`), executors that send (`executor.rs`), a completer that
//! records outcomes in batches (`completer.rs`), a rescuer for expired leases
//! (`rescuer.rs`), and auto-disable (`auto_disable.rs`). New work announced
//! by other processes, and changed webhooks, are heard on the process's one
//! LISTEN connection (`workers/listener.rs`), which wakes the producer and keeps
//! the send-target cache true.
//!
//! Which due delivery goes next, and every limit on it (a webhook's
//! `max_in_flight` and rate limit, a tenant's cap, the circuit breaker,
//! ordering keys), is decided by the claim, in the database
//! (`queue::claim`), so it holds across every process sharing it. This
//! process has `HOOKRELAY_WORKERS` senders, and claims up to `PREFETCH` times
//! that many deliveries so that a sender that finishes starts the next at
//! once instead of waiting for a claim statement; no webhook or tenant sends
//! on more than half of them at once (`shares.rs`).
//!
//! A claim's lease is counted from when the claim was sent (before the
//! database granted it), and an attempt starts only while the lease outlasts
//! the delivery timeout by `START_MARGIN`; otherwise the claim is handed back
//! unsent. No transaction is open while a receiver is called.
//!
//! Shutdown: stop claiming, give in-flight sends up to the grace period, abandon
//! what is left, let the completer flush, and release every claim not completed
//! as `pending`, due now.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, Notify, Semaphore};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

use crate::config::Config;
use crate::delivery::{Sender, Targets};
use crate::metrics::Metrics;
use crate::queue::{self, Release};
use crate::store::Pool;

mod auto_disable;
mod completer;
mod executor;
pub mod listener;
mod producer;
mod rescuer;
mod shares;

/// The most rows one claim or one completion statement handles.
const MAX_BATCH: usize = 256;

/// Claimed deliveries per worker, sending or waiting to: claims cost a
/// statement each, so the waiting ones must outlast one (measured on one busy
/// webhook: 2 per worker drained 8,300–8,700/s, 4 drained 11,300/s).
const PREFETCH: usize = 4;

/// An attempt starts only while its lease outlasts the delivery timeout by
/// this much: time to record its outcome before the rescuer may hand it to
/// another worker. The configuration's `LEASE_MARGIN` is larger, so a claim
/// may still wait for a worker or a rate-limit slot.
pub const START_MARGIN: Duration = Duration::from_millis(500);

/// Claims this process holds and has not completed: (attempt) by delivery id.
type InFlight = Arc<Mutex<HashMap<Uuid, i32>>>;

struct Shared {
    pool: Pool,
    config: Config,
    sender: Sender,
    wake: Arc<Notify>,
    in_flight: InFlight,
    metrics: Arc<Metrics>,
    /// Each webhook as an attempt starting now must see it.
    targets: Arc<Targets>,
    /// Sends under way: `HOOKRELAY_WORKERS` permits.
    sending: Arc<Semaphore>,
    /// No webhook or tenant sends on more than half of them.
    shares: shares::Shares,
    /// What bounds each claim.
    limits: queue::Limits,
    /// When this process last saw each webhook's breaker trip: claims taken
    /// before are handed back unsent, so a receiver found down gets no more
    /// than the attempts already under way. Its executors see a trip first
    /// (`TRIP_AFTER` unhealthy answers in a row, counted in `unhealthy`);
    /// the completer records it in the database, for every process.
    tripped: Mutex<HashMap<Uuid, tokio::time::Instant>>,
    unhealthy: Mutex<HashMap<Uuid, i32>>,
    /// Stop claiming.
    stop_claiming: CancellationToken,
    /// Grace is over: abandon sends under way, and stop retrying outcome writes for long.
    abandon: CancellationToken,
}

/// A running worker pool; `shutdown` stops it in order.
pub struct Workers {
    shared: Arc<Shared>,
    executors: TaskTracker,
    producer: JoinHandle<()>,
    completer: JoinHandle<()>,
    helpers: Vec<JoinHandle<()>>,
}

impl Workers {
    pub fn start(
        pool: Pool,
        config: Config,
        sender: Sender,
        wake: Arc<Notify>,
        metrics: Arc<Metrics>,
        targets: Arc<Targets>,
    ) -> Workers {
        let (done_tx, done_rx) = mpsc::channel(config.workers.max(1) * PREFETCH);
        let limits = queue::Limits {
            max_in_flight: i32::try_from(config.max_in_flight_per_webhook).unwrap_or(i32::MAX),
            tenant_cap: i32::try_from(config.max_in_flight_per_tenant).unwrap_or(i32::MAX),
            lease: config.lease,
        };
        let shared = Arc::new(Shared {
            pool,
            sending: Arc::new(Semaphore::new(config.workers)),
            shares: shares::Shares::new(config.workers),
            limits,
            tripped: Mutex::default(),
            unhealthy: Mutex::default(),
            config,
            sender,
            wake,
            metrics,
            targets,
            in_flight: Arc::default(),
            stop_claiming: CancellationToken::new(),
            abandon: CancellationToken::new(),
        });
        let executors = TaskTracker::new();
        let producer = tokio::spawn(producer::run(shared.clone(), executors.clone(), done_tx));
        let completer = tokio::spawn(completer::run(shared.clone(), done_rx));
        let helpers = vec![
            tokio::spawn(rescuer::run(shared.clone())),
            tokio::spawn(auto_disable::run(shared.clone())),
        ];
        Workers {
            shared,
            executors,
            producer,
            completer,
            helpers,
        }
    }

    /// Stops claiming, waits up to `grace` for sends under way, records what
    /// finished and hands back what did not.
    pub async fn shutdown(self, grace: Duration) {
        self.shared.stop_claiming.cancel();
        let _ = self.producer.await;
        self.executors.close();
        if tokio::time::timeout(grace, self.executors.wait())
            .await
            .is_err()
        {
            tracing::warn!("shutdown grace ran out; abandoning deliveries still being sent");
            self.shared.abandon.cancel();
            self.executors.wait().await;
        }
        // From here on the completer gives up on a database that does not answer
        // after a few tries, rather than hold the exit: the leases cover it.
        self.shared.abandon.cancel();
        // Every sender of outcomes is gone now, so the completer ends after its last batch.
        let _ = self.completer.await;
        for h in &self.helpers {
            h.abort();
        }
        let unfinished: Vec<Release> = lock(&self.shared.in_flight)
            .drain()
            .map(|(id, attempt)| Release {
                id,
                attempt,
                hold: false,
            })
            .collect();
        if !unfinished.is_empty() {
            let released = async {
                let client = self.shared.pool.get().await?;
                queue::release(&client, &unfinished).await
            }
            .await;
            match released {
                Ok(n) => tracing::info!(
                    released = n,
                    "handed unfinished deliveries back to the queue"
                ),
                Err(e) => {
                    tracing::warn!(error = %e, count = unfinished.len(), "could not hand deliveries back; their leases will expire")
                }
            }
        }
    }
}

impl Shared {
    /// Records that the breaker of `webhook` tripped now.
    fn trip(&self, webhook: Uuid) {
        let now = tokio::time::Instant::now();
        let mut tripped = lock(&self.tripped);
        // Older trips cannot concern a claim whose lease still runs.
        tripped.retain(|_, at| now.duration_since(*at) < self.config.lease);
        tripped.insert(webhook, now);
    }

    /// Whether the breaker of `webhook` tripped after `claimed_at`.
    fn tripped_since(&self, webhook: Uuid, claimed_at: tokio::time::Instant) -> bool {
        lock(&self.tripped)
            .get(&webhook)
            .is_some_and(|at| *at > claimed_at)
    }

    /// Counts an answer towards the breaker, as the database will once the
    /// completer writes it; trips here at once after `TRIP_AFTER` in a row.
    fn answered(&self, webhook: Uuid, healthy: bool) {
        let mut unhealthy = lock(&self.unhealthy);
        if healthy {
            unhealthy.remove(&webhook);
            return;
        }
        let n = unhealthy.entry(webhook).or_insert(0);
        *n += 1;
        if *n >= queue::TRIP_AFTER {
            unhealthy.remove(&webhook);
            drop(unhealthy);
            self.trip(webhook);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves plain data behind: still usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Grows after each consecutive failure, up to a few seconds.
struct Backoff(u32);

impl Backoff {
    fn next(&mut self) -> Duration {
        self.0 = (self.0 + 1).min(8);
        Duration::from_millis(25 << self.0).min(Duration::from_secs(5))
    }
}
