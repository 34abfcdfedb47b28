//! Per-webhook limits in this process: the in-flight cap and the circuit breaker.
//!
//! Both exist so that one customer's outage never slows the others. The cap
//! keeps a receiver that hangs until the timeout from occupying every worker:
//! at most `cap` of its deliveries are sent at once (its lane), and a few times
//! that many wait claimed behind them, so the next send of a busy receiver
//! never waits for a claim statement (`PREFETCH`, in workers.rs).
//! The breaker keeps a receiver that is down (refuses connections, times out,
//! answers 5xx or 429) from burning the retry budget of its whole backlog in a
//! tight loop, and from taking workers the healthy receivers could use: after
//! `TRIP_AFTER` consecutive such attempts its deliveries are left in the queue,
//! unclaimed and uncounted, for a pause that doubles on every trip up to
//! `MAX_PAUSE`. After a pause one delivery probes the receiver; a healthy
//! answer (anything else, a 4xx included) closes the breaker, another failure
//! trips it again.
//!
//! A rate-limited webhook (its `rate_limit`) holds only the claims it can
//! start within a few seconds; its attempts take their slots from the
//! database (workers.rs), so the limit holds across processes, and its due
//! rows wait in the queue, moved to when their slots are expected.
//!
//! The state is in memory and per process: it shapes what this process claims,
//! and is rebuilt from experience after a restart. One effect is shared: the
//! due rows of a paused webhook that this process's claims would read past are
//! moved to the end of its pause (sql/defer_paused.sql), for every replica; a
//! receiver down for one process is down for the others too.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::time::Instant;
use uuid::Uuid;

use super::PREFETCH;

const TRIP_AFTER: u32 = 5;
const FIRST_PAUSE: Duration = Duration::from_secs(5);
const MAX_PAUSE: Duration = Duration::from_secs(60);

/// A rate-limited webhook holds no more claims than it can start in this long:
/// a claim waits for its slot, and must start well within its lease.
const RATE_CLAIM_HORIZON: Duration = Duration::from_secs(5);

/// Most claims a webhook may hold here: `cap`, or for a rate-limited one, what
/// its slots let it start within `RATE_CLAIM_HORIZON` (at least one).
fn claim_cap(cap: i32, spacing: Option<Duration>) -> i32 {
    match spacing {
        None => cap,
        Some(s) if s.is_zero() => cap,
        Some(s) => {
            let fits = RATE_CLAIM_HORIZON.as_micros() / s.as_micros().max(1);
            cap.min(i32::try_from(fits).unwrap_or(i32::MAX)).max(1)
        }
    }
}

struct WebhookState {
    /// Claimed and not finished: sending, or waiting for the lane.
    in_flight: i32,
    /// Sends to this webhook under way: `cap` permits.
    lane: Arc<Semaphore>,
    unhealthy_in_a_row: u32,
    trips: u32,
    paused_until: Option<Instant>,
    /// A pause ended and no healthy answer came since: one claim at a time.
    probing: bool,
    /// Trips so far; claims made before the latest one are not sent.
    tripped: u64,
    /// The webhook's rate limit, as one attempt every `spacing` (its slots are
    /// kept in the database; this only shapes what this process claims).
    spacing: Option<Duration>,
}

/// What the claim statement needs to know of this process's webhooks.
pub struct ClaimLimits {
    /// Webhooks that may take nothing more now: at the cap, probing, or paused.
    pub excluded: Vec<Uuid>,
    /// Of those, the ones whose due rows a claim should not meet: paused by the
    /// breaker, or rate-limited with all the claims they may hold; in how many
    /// milliseconds each takes more, and how far apart (a rate limit's slots;
    /// 0 for a pause).
    pub paused: Vec<Uuid>,
    pub resume_in_ms: Vec<i64>,
    pub spacing_ms: Vec<i64>,
    /// Webhooks with deliveries claimed here, and how many.
    pub busy: Vec<Uuid>,
    pub busy_counts: Vec<i32>,
    /// When the earliest pause ends, if any webhook is paused.
    pub next_resume: Option<Instant>,
}

pub struct Throttle {
    /// Most sends at once per webhook.
    cap: usize,
    webhooks: HashMap<Uuid, WebhookState>,
}

impl Throttle {
    pub fn new(cap: usize) -> Throttle {
        Throttle {
            cap,
            webhooks: HashMap::new(),
        }
    }

    /// Most deliveries of one webhook claimed here at once: a full lane, and
    /// the rest waiting behind it.
    pub fn cap(&self) -> i32 {
        i32::try_from(self.cap.saturating_mul(PREFETCH)).unwrap_or(i32::MAX)
    }

    pub fn limits(&mut self, now: Instant) -> ClaimLimits {
        let mut limits = ClaimLimits {
            excluded: Vec::new(),
            paused: Vec::new(),
            resume_in_ms: Vec::new(),
            spacing_ms: Vec::new(),
            busy: Vec::new(),
            busy_counts: Vec::new(),
            next_resume: None,
        };
        let cap = self.cap();
        for (id, w) in &mut self.webhooks {
            if w.paused_until.is_some_and(|t| t <= now) {
                w.paused_until = None;
                w.probing = true;
            }
            if let Some(until) = w.paused_until {
                limits.excluded.push(*id);
                limits.paused.push(*id);
                let resume_in = until.saturating_duration_since(now).as_millis();
                limits
                    .resume_in_ms
                    .push(i64::try_from(resume_in).unwrap_or(i64::MAX));
                limits.spacing_ms.push(0);
                limits.next_resume = Some(limits.next_resume.map_or(until, |t| t.min(until)));
            } else if w.probing {
                if w.in_flight > 0 {
                    limits.excluded.push(*id);
                } else {
                    // Counted as all but one slot taken, so one claim fits.
                    limits.busy.push(*id);
                    limits.busy_counts.push(cap - 1);
                }
            } else if w.in_flight >= claim_cap(cap, w.spacing) {
                limits.excluded.push(*id);
                if let Some(spacing) = w.spacing {
                    // Its claims are waiting for their slots: what is due
                    // behind them will be taken one slot apart, after them.
                    let ms = i64::try_from(spacing.as_millis()).unwrap_or(i64::MAX);
                    limits.paused.push(*id);
                    limits
                        .resume_in_ms
                        .push(ms.saturating_mul(i64::from(w.in_flight)));
                    limits.spacing_ms.push(ms);
                }
            } else if w.in_flight > 0 {
                limits.busy.push(*id);
                // The claim statement knows one cap for all: a smaller one is
                // told as that many slots already taken.
                limits
                    .busy_counts
                    .push(w.in_flight + cap - claim_cap(cap, w.spacing));
            }
        }
        // Forget webhooks with nothing to remember, so the map stays small.
        self.webhooks.retain(|_, w| {
            w.in_flight > 0 || w.paused_until.is_some() || w.unhealthy_in_a_row > 0 || w.probing
        });
        limits
    }

    /// Records a webhook's rate limit, as seen when one of its attempts was about to start.
    pub fn rate_limited(&mut self, webhook: Uuid, spacing: Option<Duration>) {
        if let Some(w) = self.webhooks.get_mut(&webhook) {
            w.spacing = spacing;
        }
    }

    /// Whether a delivery claimed when the breaker had tripped `trips` times
    /// must not be sent now: its webhook is paused, or tripped since (the pause
    /// may be over, but then one probe goes first, not the claims queued
    /// before). Such claims are handed back.
    pub fn held_back(&self, webhook: Uuid, trips: u64, now: Instant) -> bool {
        self.webhooks
            .get(&webhook)
            .is_some_and(|w| w.tripped != trips || w.paused_until.is_some_and(|until| until > now))
    }

    /// Records a claimed delivery; returns the lane its send must enter, and
    /// the trip count to hand to `held_back`.
    pub fn started(&mut self, webhook: Uuid) -> (Arc<Semaphore>, u64) {
        let w = self.state(webhook);
        w.in_flight += 1;
        (w.lane.clone(), w.tripped)
    }

    fn state(&mut self, webhook: Uuid) -> &mut WebhookState {
        let cap = self.cap;
        self.webhooks
            .entry(webhook)
            .or_insert_with(|| WebhookState {
                in_flight: 0,
                lane: Arc::new(Semaphore::new(cap)),
                unhealthy_in_a_row: 0,
                trips: 0,
                paused_until: None,
                probing: false,
                tripped: 0,
                spacing: None,
            })
    }

    /// Records a finished attempt, `healthy` unless the receiver looked down;
    /// true when the webhook had been at its cap (so the producer may now claim
    /// more of it).
    pub fn finished(&mut self, webhook: Uuid, healthy: bool, now: Instant) -> bool {
        let cap = self.cap();
        let w = self.state(webhook);
        let was_full = w.in_flight >= cap;
        w.in_flight = (w.in_flight - 1).max(0);
        if healthy {
            w.unhealthy_in_a_row = 0;
            w.trips = 0;
            w.probing = false;
        } else {
            w.unhealthy_in_a_row += 1;
            if w.unhealthy_in_a_row >= TRIP_AFTER && w.paused_until.is_none() {
                let pause = FIRST_PAUSE
                    .saturating_mul(1 << w.trips.min(16))
                    .min(MAX_PAUSE);
                w.trips += 1;
                w.tripped += 1;
                w.paused_until = Some(now + pause);
                tracing::warn!(webhook_id = %webhook, pause = ?pause, "receiver down; pausing its deliveries");
            }
        }
        was_full
    }

    /// How often the breaker has paused the webhook since this process last
    /// forgot it: a finished attempt that raised this paused it.
    pub fn trips(&self, webhook: Uuid) -> u64 {
        self.webhooks.get(&webhook).map_or(0, |w| w.tripped)
    }

    /// An attempt that was abandoned (shutdown) frees its slot without a verdict.
    pub fn abandoned(&mut self, webhook: Uuid) {
        if let Some(w) = self.webhooks.get_mut(&webhook) {
            w.in_flight = (w.in_flight - 1).max(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Enough unhealthy answers in a row to trip the breaker.
    fn trip(t: &mut Throttle, w: Uuid, now: Instant) {
        for _ in 0..TRIP_AFTER {
            t.started(w);
            t.finished(w, false, now);
        }
    }

    #[test]
    fn a_webhook_at_its_cap_is_excluded_until_one_finishes() {
        let mut t = Throttle::new(1);
        let w = Uuid::new_v4();
        let now = Instant::now();
        let (lane, _) = t.started(w);
        assert_eq!(lane.available_permits(), 1, "one send at once");
        let l = t.limits(now);
        assert_eq!(
            (l.busy, l.busy_counts, l.excluded.len()),
            (vec![w], vec![1], 0)
        );
        // One sending and the rest waiting behind it: no more claims.
        for _ in 1..PREFETCH {
            assert!(t.limits(now).excluded.is_empty());
            t.started(w);
        }
        assert_eq!(t.limits(now).excluded, vec![w]);
        assert!(t.finished(w, true, now));
        assert!(t.limits(now).excluded.is_empty());
    }

    #[test]
    fn unreachable_receivers_pause_with_growing_pauses_and_recover_on_an_answer() {
        let mut t = Throttle::new(100);
        let w = Uuid::new_v4();
        let now = Instant::now();
        trip(&mut t, w, now);
        let l = t.limits(now);
        assert_eq!(l.excluded, vec![w]);
        assert_eq!((l.paused, l.resume_in_ms), (vec![w], vec![5000]));
        assert_eq!(l.next_resume, Some(now + FIRST_PAUSE));
        // The pause ends; the next failure trips again, for twice as long.
        let later = now + FIRST_PAUSE;
        assert!(t.limits(later).paused.is_empty());
        t.started(w);
        t.finished(w, false, later);
        assert_eq!(t.limits(later).next_resume, Some(later + FIRST_PAUSE * 2));
        // An answer closes the breaker.
        let much_later = later + MAX_PAUSE;
        t.limits(much_later);
        t.started(w);
        t.finished(w, true, much_later);
        t.started(w);
        t.finished(w, false, much_later);
        let l = t.limits(much_later);
        assert!(l.paused.is_empty() && l.excluded.is_empty());
    }

    #[test]
    fn after_a_pause_one_delivery_probes_until_the_receiver_answers() {
        let mut t = Throttle::new(8);
        let w = Uuid::new_v4();
        let now = Instant::now();
        trip(&mut t, w, now);
        let resumed = now + FIRST_PAUSE;
        let l = t.limits(resumed);
        assert_eq!(
            (l.busy, l.busy_counts),
            (vec![w], vec![t.cap() - 1]),
            "room for one claim"
        );
        t.started(w);
        assert_eq!(
            t.limits(resumed).excluded,
            vec![w],
            "no second claim while probing"
        );
        t.finished(w, true, resumed);
        let l = t.limits(resumed);
        assert!(
            l.excluded.is_empty() && l.busy.is_empty(),
            "closed: no limit beyond the cap"
        );
    }

    #[test]
    fn claims_made_before_a_trip_are_held_back_even_after_the_pause() {
        let mut t = Throttle::new(8);
        let w = Uuid::new_v4();
        let now = Instant::now();
        let (_, before) = t.started(w);
        assert!(!t.held_back(w, before, now));
        trip(&mut t, w, now);
        assert!(t.held_back(w, before, now), "paused");
        let resumed = now + FIRST_PAUSE;
        t.limits(resumed);
        assert!(t.held_back(w, before, resumed), "claimed before the trip");
        let (_, probe) = t.started(w);
        assert!(!t.held_back(w, probe, resumed), "the probe goes");
    }
}
