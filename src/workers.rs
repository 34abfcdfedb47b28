//! The pool of delivery tasks: a producer that claims, executors that send, a
//! completer that records, and helpers on their own loops.
//!
//! - **Producer.** Keeps up to `PREFETCH` times `HOOKRELAY_WORKERS` deliveries claimed:
//!   when claim slots are free it claims that many due deliveries in one
//!   statement and spawns one executor per claim. Claiming ahead of the free
//!   workers is what keeps them busy: a worker that finishes starts the next
//!   send at once instead of waiting a claim statement for it (measured: a
//!   single busy webhook drained 6,000/s without the prefetch, 11,300/s with).
//!   The claim respects per-webhook limits (`throttle.rs`: an in-flight cap
//!   and a circuit breaker), so one sick receiver cannot take every worker. When the
//!   queue runs dry it sleeps until the earliest scheduled retry, the poll
//!   interval (with jitter, so replicas do not poll in lockstep), or a wake-up,
//!   whichever comes first. An idle pool costs two small queries per interval.
//! - **Wake-ups.** The API wakes the producer in-process the moment it commits
//!   new work, and tells other processes with a debounced `NOTIFY` that a
//!   dedicated connection here `LISTEN`s for (`wakeup.rs`). Locally, the
//!   completer wakes the producer after it schedules a retry.
//! - **Executors.** Wait for a send slot on their webhook's lane, their
//!   tenant's lane, and one of the `HOOKRELAY_WORKERS` slots, send one attempt with no database connection
//!   held, and hand the outcome to the completer. An attempt starts only while
//!   its lease will outlast it and its webhook is not paused; otherwise the
//!   claim is handed back.
//! - **Completer.** Writes outcomes in batches (one statement per batch), guarded
//!   by the lease. If the database is down it keeps the batch and retries; if the
//!   process dies first, the lease runs out and the rescuer brings the rows back.
//! - **Rescuer.** Hands back claims whose lease expired (a process was killed).
//! - **Auto-disable.** Disables webhooks whose attempts have all failed for
//!   `HOOKRELAY_AUTO_DISABLE_AFTER` (`auto_disable.rs`).
//!
//! Shutdown: stop claiming, give in-flight sends up to the grace period, abandon
//! what is left, let the completer flush, and release every claim not completed
//! as `pending`, due now.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::poll_fn;
use rand::Rng;
use tokio::sync::{mpsc, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tokio_postgres::{AsyncMessage, NoTls};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

use crate::config::Config;
use crate::delivery::{decide, Attempted, Current, Failure, Outcome, Sender, Target, Targets};
use crate::metrics::Metrics;
use crate::queue::{self, Claimed, Completion, Release, Spread, Status};
use crate::store::{Pool, StoreError};

mod auto_disable;
mod throttle;
use throttle::{ClaimLimits, Lanes, Throttle};

/// The most rows one claim or one completion statement handles.
const MAX_BATCH: usize = 256;

/// While the queue is busy, how long the producer lets freed workers gather
/// before claiming for them.
const GATHER: Duration = Duration::from_millis(2);

/// Claimed deliveries per worker, sending or waiting to: claims cost a
/// statement each, so the waiting ones must outlast one (measured on one busy
/// webhook: 2 per worker drained 8,300–8,700/s, 4 drained 11,300/s).
const PREFETCH: usize = 4;

/// Claims this process holds and has not completed: (attempt) by delivery id.
type InFlight = Arc<Mutex<HashMap<Uuid, i32>>>;

struct Shared {
    pool: Pool,
    config: Config,
    sender: Sender,
    wake: Arc<Notify>,
    in_flight: InFlight,
    throttle: Mutex<Throttle>,
    metrics: Arc<Metrics>,
    /// Each webhook as an attempt starting now must see it.
    targets: Arc<Targets>,
    /// Sends under way: `HOOKRELAY_WORKERS` permits.
    sending: Arc<Semaphore>,
    /// How long after its claim an attempt may still start (`latest_start`).
    latest_start: Duration,
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
        let latest_start = latest_start(config.lease, config.delivery_timeout);
        let shared = Arc::new(Shared {
            pool,
            sending: Arc::new(Semaphore::new(config.workers)),
            latest_start,
            throttle: Mutex::new(Throttle::new(
                config.max_in_flight_per_webhook,
                config.max_in_flight_per_tenant,
            )),
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
        let producer = tokio::spawn(produce(shared.clone(), executors.clone(), done_tx));
        let completer = tokio::spawn(complete(shared.clone(), done_rx));
        let helpers = vec![
            tokio::spawn(listen(shared.clone())),
            tokio::spawn(rescue(shared.clone())),
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

/// How long after its claim an attempt may still start: its lease must outlast
/// the attempt's timeout, with a second to spare for the claim's own round trip
/// (the lease starts in the database, the clock here a little later). The
/// configuration refuses a lease shorter than the timeout + `LEASE_MARGIN`, so
/// this leaves every claim at least a second to wait for a worker.
pub fn latest_start(lease: Duration, timeout: Duration) -> Duration {
    lease.saturating_sub(timeout + Duration::from_secs(1))
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

async fn produce(shared: Arc<Shared>, executors: TaskTracker, done: mpsc::Sender<Completion>) {
    let slots = Arc::new(Semaphore::new(shared.config.workers * PREFETCH));
    let mut backoff = Backoff(0);
    // True while the queue has more due work than free workers.
    let mut busy = false;
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
        let (limits, cap, tenant_cap) = {
            let mut throttle = lock(&shared.throttle);
            (
                throttle.limits(tokio::time::Instant::now()),
                throttle.cap(),
                throttle.tenant_cap(),
            )
        };
        let spread = Spread {
            excluded: &limits.excluded,
            busy: &limits.busy,
            busy_counts: &limits.busy_counts,
            cap,
            excluded_tenants: &limits.excluded_tenants,
            busy_tenants: &limits.busy_tenants,
            busy_tenant_counts: &limits.busy_tenant_counts,
            tenant_cap,
        };
        let claimed = async {
            let client = shared.pool.get().await?;
            if !limits.paused.is_empty() {
                queue::defer_paused(
                    &client,
                    &limits.paused,
                    &limits.resume_in_ms,
                    &limits.spacing_ms,
                    asked,
                )
                .await?;
            }
            queue::claim(&client, asked, shared.config.lease, &spread).await
        }
        .await;
        let claimed = match claimed {
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
        let got = claimed.len();
        busy = got == asked;
        load_targets(&shared, &claimed).await;
        let lanes: Vec<_> = {
            let mut in_flight = lock(&shared.in_flight);
            let mut throttle = lock(&shared.throttle);
            claimed
                .iter()
                .map(|d| {
                    in_flight.insert(d.id, d.attempt);
                    throttle.started(d.webhook_id, &d.tenant)
                })
                .collect()
        };
        let claimed_at = tokio::time::Instant::now();
        for ((delivery, lanes), permit) in claimed.into_iter().zip(lanes).zip(permits) {
            let claim = Claim {
                delivery,
                lanes,
                claimed_at,
                _slot: permit,
            };
            executors.spawn(execute(shared.clone(), claim, done.clone()));
        }
        if got < asked {
            idle(&shared, &limits).await;
        }
    }
}

/// Sleeps until the next claimable retry is due, a paused webhook resumes, a
/// wake-up, or the poll interval.
async fn idle(shared: &Shared, limits: &ClaimLimits) {
    let poll = shared.config.poll_interval;
    let jitter = poll.mul_f64(rand::thread_rng().gen_range(0.9..1.1));
    let next_due = async {
        let client = shared.pool.get().await?;
        queue::next_due(&client, &limits.excluded, &limits.excluded_tenants).await
    }
    .await
    .unwrap_or(None);
    // Something due right now that we did not get is locked by another claimer:
    // look again shortly rather than spin.
    let mut wait = next_due.map_or(jitter, |d| d.max(Duration::from_millis(2)).min(jitter));
    if let Some(resume) = limits.next_resume {
        wait = wait.min(resume.saturating_duration_since(tokio::time::Instant::now()));
    }
    tokio::select! {
        _ = tokio::time::sleep(wait) => {}
        _ = shared.wake.notified() => {}
        _ = shared.stop_claiming.cancelled() => {}
    }
}

/// A claimed delivery on its way to an executor.
struct Claim {
    delivery: Claimed,
    /// Its webhook's and its tenant's lanes, and how often the breaker had
    /// tripped for its webhook when it was claimed (throttle.rs).
    lanes: Lanes,
    claimed_at: tokio::time::Instant,
    /// One of the producer's claim slots, freed when the executor ends.
    _slot: OwnedSemaphorePermit,
}

async fn execute(shared: Arc<Shared>, claim: Claim, done: mpsc::Sender<Completion>) {
    let d = &claim.delivery;
    let mut changes = shared.targets.changes();
    let webhook_lane = claim.lanes.webhook.clone().acquire_owned();
    let lane = match wait(&shared, d, &mut changes, webhook_lane).await {
        Waited::Got(lane) => lane,
        Waited::Stopped => return,
    };
    let tenant_lane = match &claim.lanes.tenant {
        Some(l) => match wait(&shared, d, &mut changes, l.clone().acquire_owned()).await {
            Waited::Got(permit) => Some(permit),
            Waited::Stopped => return,
        },
        None => None,
    };
    let lane = (lane, tenant_lane);
    // A rate-limited webhook: wait for this attempt's slot, then take a worker.
    let spacing = match target_now(&shared, d.webhook_id).await {
        Ok(Some(target)) => target.rate_limit.map(spacing),
        _ => None,
    };
    lock(&shared.throttle).rate_limited(d.webhook_id, spacing);
    let worker = loop {
        let slot = match spacing {
            Some(spacing) => match wait_for_slot(&shared, &claim, spacing).await {
                Some(at) => Some((at, spacing)),
                None => {
                    drop(lane);
                    hand_back(&shared, d, false).await;
                    return;
                }
            },
            None => None,
        };
        let worker = match wait(
            &shared,
            d,
            &mut changes,
            shared.sending.clone().acquire_owned(),
        )
        .await
        {
            Waited::Got(worker) => worker,
            Waited::Stopped => return,
        };
        match slot {
            // The workers were all busy past the slot: sent now, it would
            // crowd the next slots' attempts. Its slot is gone; take another.
            Some((at, spacing)) if tokio::time::Instant::now() > at + late(spacing) => continue,
            _ => break worker,
        }
    };
    let slots = (lane, worker);
    let now = tokio::time::Instant::now();
    if now.duration_since(claim.claimed_at) > shared.latest_start
        || lock(&shared.throttle).held_back(d.webhook_id, claim.lanes.trips, now)
    {
        drop(slots);
        hand_back(&shared, d, false).await;
        return;
    }
    // The webhook as it is now: a change announced since the claim applies.
    let target = match target_now(&shared, d.webhook_id).await {
        Ok(Some(target)) => target,
        stopped => {
            drop(slots);
            if let Err(e) = &stopped {
                tracing::warn!(error = %e, webhook_id = %d.webhook_id, "could not read the webhook before an attempt; handing the claim back");
            }
            hand_back(&shared, d, stopped.is_ok()).await;
            return;
        }
    };
    shared.metrics.attempt_started();
    let attempted = tokio::select! {
        a = shared.sender.send(d, &target) => a,
        _ = shared.abandon.cancelled() => {
            drop(slots);
            lock(&shared.throttle).abandoned(d.webhook_id, &d.tenant);
            shared.metrics.attempt_finished(None, Duration::ZERO);
            return;
        }
    };
    // Free the lane before the throttle counts this one finished, so a lane
    // the throttle forgets has no send left in it.
    drop(slots);
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
    let (was_full, paused) = {
        let mut throttle = lock(&shared.throttle);
        let trips = throttle.trips(d.webhook_id);
        let was_full = throttle.finished(
            d.webhook_id,
            &d.tenant,
            healthy,
            tokio::time::Instant::now(),
        );
        (was_full, throttle.trips(d.webhook_id) > trips)
    };
    if was_full {
        // The webhook or its tenant was at its cap: the producer may take more of it now.
        shared.wake.notify_one();
    }
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
        .send(completion(d, attempted, outcome, paused, headers))
        .await;
}

enum Waited<T> {
    Got(T),
    /// Shutdown began (the claim is handed back with the others), or the
    /// webhook was disabled or deleted (the claim was handed back, held).
    Stopped,
}

/// Waits for a lane or a worker, unless shutdown begins or the webhook is
/// disabled or deleted meanwhile: its claims go back then, not when a worker
/// frees up.
async fn wait<T, E>(
    shared: &Shared,
    d: &Claimed,
    changes: &mut tokio::sync::watch::Receiver<u64>,
    permit: impl std::future::Future<Output = Result<T, E>>,
) -> Waited<T> {
    tokio::pin!(permit);
    loop {
        tokio::select! {
            p = &mut permit => match p {
                Ok(p) => return Waited::Got(p),
                Err(_) => break,
            },
            _ = shared.stop_claiming.cancelled() => break,
            Ok(()) = changes.changed() => {
                if matches!(shared.targets.current(d.webhook_id), Current::Stop) {
                    hand_back(shared, d, true).await;
                    return Waited::Stopped;
                }
            }
        }
    }
    lock(&shared.throttle).abandoned(d.webhook_id, &d.tenant);
    Waited::Stopped
}

/// One attempt every this long, for `rate_limit` attempts per second.
fn spacing(rate_limit: i32) -> Duration {
    Duration::from_micros(1_000_000 / u64::try_from(rate_limit.max(1)).unwrap_or(1))
}

/// How late after its slot an attempt may still start: later, attempts of
/// later slots would crowd into the same second.
fn late(spacing: Duration) -> Duration {
    spacing.clamp(Duration::from_millis(10), Duration::from_millis(100))
}

/// Takes the attempt's slot of its webhook's rate limit (from the database,
/// so the limit holds across processes), sleeps until it comes, and returns
/// when it began. `None` when the claim cannot wait that long (its lease would
/// run out during the attempt), or shutdown begins: the claim goes back uncounted.
async fn wait_for_slot(
    shared: &Shared,
    claim: &Claim,
    spacing: Duration,
) -> Option<tokio::time::Instant> {
    let d = &claim.delivery;
    let taken = async {
        let client = shared.pool.get().await?;
        queue::take_rate_slot(&client, d.webhook_id, spacing).await
    }
    .await;
    let wait = match taken {
        Ok(wait) => wait,
        Err(e) => {
            tracing::warn!(error = %e, webhook_id = %d.webhook_id, "could not take a rate-limit slot; handing the claim back");
            return None;
        }
    };
    let starts = tokio::time::Instant::now() + wait;
    if starts.duration_since(claim.claimed_at) > shared.latest_start {
        return None;
    }
    tokio::select! {
        _ = tokio::time::sleep_until(starts) => Some(starts),
        _ = shared.stop_claiming.cancelled() => None,
    }
}

/// Returns a claim that will not be attempted now: back to pending, due now,
/// the attempt uncounted; held (`hold`) if its webhook was found disabled. The
/// reasons: it waited so long for a worker that its lease might run out during
/// the attempt, the breaker paused its webhook meanwhile, or its webhook was
/// disabled or deleted. If the release fails, the lease brings it back later.
async fn hand_back(shared: &Shared, d: &Claimed, hold: bool) {
    lock(&shared.throttle).abandoned(d.webhook_id, &d.tenant);
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
    paused: bool,
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
        paused,
    }
}

async fn complete(shared: Arc<Shared>, mut done: mpsc::Receiver<Completion>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while done.recv_many(&mut batch, MAX_BATCH).await > 0 {
        write_batch(&shared, &batch).await;
        batch.clear();
    }
}

/// Writes one batch, retrying while the database is away. Once shutdown has
/// abandoned sends it gives up after a few tries: the leases will bring the rows back.
async fn write_batch(shared: &Shared, batch: &[Completion]) {
    let mut backoff = Backoff(0);
    let mut tries = 0;
    loop {
        let written: Result<_, StoreError> = async {
            let mut client = shared.pool.get().await?;
            queue::complete(&mut client, batch).await
        }
        .await;
        match written {
            Ok(written) => {
                {
                    let mut in_flight = lock(&shared.in_flight);
                    for c in batch {
                        in_flight.remove(&c.id);
                        if !written.accepted.contains(&c.id) {
                            tracing::warn!(delivery_id = %c.id, attempt = c.attempt, "lease lost before the outcome was recorded; outcome dropped");
                        }
                    }
                }
                // Retries are due, or dead letters fanned out to operators' webhooks.
                if batch.iter().any(|c| c.status != Status::Success) {
                    shared.wake.notify_one();
                }
                record_runs(shared, batch, &written).await;
                return;
            }
            Err(e) => {
                tries += 1;
                if shared.abandon.is_cancelled() && tries >= 5 {
                    tracing::warn!(error = %e, count = batch.len(), "giving up on recording outcomes at shutdown");
                    return;
                }
                let wait = backoff.next();
                tracing::warn!(error = %e, retry_in = ?wait, count = batch.len(), "could not record outcomes; will retry");
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// After a batch is recorded: the runs of failures it changed (rarely any;
/// `queue::failing`). Not retried: a run left as it was is changed by the
/// webhook's next outcomes.
async fn record_runs(shared: &Shared, batch: &[Completion], written: &queue::Written) {
    let changes = queue::failing::changes(batch, written);
    if changes.is_empty() {
        return;
    }
    let recorded = async {
        let mut client = shared.pool.get().await?;
        queue::failing::record(&mut client, &changes).await
    }
    .await;
    match recorded {
        Ok(0) => {}
        Ok(n) => {
            tracing::info!(webhooks = n, "receivers recovered after a pause");
            shared.wake.notify_one();
        }
        Err(e) => tracing::warn!(error = %e, "could not record webhooks' runs of failures"),
    }
}

/// Keeps a LISTEN connection open, reconnecting after failures. While it is
/// down, the targets cache knows nothing (every attempt reads its webhook).
async fn listen(shared: Arc<Shared>) {
    let mut backoff = Backoff(0);
    loop {
        let started = tokio::time::Instant::now();
        if let Err(e) = listen_once(&shared).await {
            tracing::debug!(error = %e, "LISTEN connection lost");
        }
        shared.targets.listening(false);
        if started.elapsed() > Duration::from_secs(10) {
            backoff = Backoff(0);
        }
        tokio::time::sleep(backoff.next()).await;
    }
}

async fn listen_once(shared: &Shared) -> Result<(), StoreError> {
    let url = shared.config.database_url.clone().unwrap_or_default();
    let (client, mut connection) = crate::store::pg_config(&url)?.connect(NoTls).await?;
    let wake = &shared.wake;
    let drive = async {
        while let Some(message) = poll_fn(|cx| connection.poll_message(cx)).await {
            let AsyncMessage::Notification(n) = message? else {
                continue;
            };
            if n.channel() == "hookrelay_webhooks" {
                // "<id> <version>", from trigger webhooks_announce.
                let mut parts = n.payload().split(' ');
                let id = parts.next().and_then(|p| Uuid::parse_str(p).ok());
                let version = parts.next().and_then(|p| p.parse::<i64>().ok());
                match id.zip(version) {
                    Some((id, version)) => shared.targets.announce(id, version),
                    // Not ours to read: forget everything rather than miss a change.
                    None => shared.targets.listening(true),
                }
            } else {
                wake.notify_one();
            }
        }
        Ok::<(), StoreError>(())
    };
    let subscribe = async {
        client.batch_execute(crate::sql::LISTEN).await?;
        // Changes made while nobody listened are read afresh from here on.
        shared.targets.listening(true);
        // Anything that arrived while we were not listening is found by this wake-up.
        wake.notify_one();
        std::future::pending::<Result<(), StoreError>>().await
    };
    tokio::select! {
        r = drive => r,
        r = subscribe => r,
    }
}

/// Hands expired leases back on a timer: a quarter of the lease, between 100 ms
/// and 5 s. On the same timer, the safety net of `held`: pending deliveries
/// held under an enabled webhook are released (none should be found).
async fn rescue(shared: Arc<Shared>) {
    let every = (shared.config.lease / 4).clamp(Duration::from_millis(100), Duration::from_secs(5));
    let max_attempts = shared.config.retry_schedule.max_attempts();
    loop {
        tokio::time::sleep(every).await;
        let rescued = async {
            let mut client = shared.pool.get().await?;
            queue::rescue_expired(&mut client, max_attempts).await
        }
        .await;
        match rescued {
            Ok(0) => {}
            Ok(n) => {
                tracing::warn!(count = n, "rescued deliveries whose lease expired");
                shared.wake.notify_one();
            }
            Err(e) => tracing::debug!(error = %e, "rescuer could not reach the database"),
        }
        let reconciled = async {
            let client = shared.pool.get().await?;
            queue::reconcile_held(&client).await
        }
        .await;
        match reconciled {
            Ok(0) => {}
            Ok(n) => {
                tracing::warn!(
                    count = n,
                    "released deliveries held under an enabled webhook"
                );
                shared.wake.notify_one();
            }
            Err(e) => tracing::debug!(error = %e, "could not reconcile held deliveries"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attempt_starts_only_while_its_lease_outlasts_the_timeout() {
        let s = Duration::from_secs;
        // The default lease: timeout + 30 s.
        assert_eq!(latest_start(s(40), s(10)), s(29));
        assert_eq!(latest_start(s(90), s(60)), s(29));
        // The shortest lease the configuration accepts.
        assert_eq!(latest_start(s(12), s(10)), s(1));
    }
}
