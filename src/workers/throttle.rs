//! Per-webhook and per-tenant limits in this process: the in-flight caps and
//! the circuit breaker.
//!
//! All exist so that one customer's outage never slows the others. The cap
//! keeps a receiver that hangs until the timeout from occupying every worker:
//! at most `cap` of its deliveries are sent at once (its lane), and a few times
//! that many wait claimed behind them, so the next send of a busy receiver
//! never waits for a claim statement (`PREFETCH`, in workers.rs). A tenant has
//! a lane of its own, over all its webhooks, on the same terms: a customer
//! with fifty endpoints on one hanging host would otherwise fill fifty
//! webhook lanes, every worker, and make every other tenant's deliveries wait
//! for its backlog (measured: 41 s at the median for another tenant's events,
//! with 50 webhooks answering in a quarter second). Tenant `default` has no
//! such lane: it is where everything goes when tenants are not used, and
//! there a lane of half the workers over all webhooks cost fan-out and the
//! failing scenario 30% of their throughput; its webhooks keep their own caps.
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

/// A tenant's share of this process: its lane over all its webhooks.
struct TenantState {
    /// Claimed and not finished, all its webhooks together.
    in_flight: i32,
    /// Sends of its deliveries under way: `tenant_cap` permits.
    lane: Arc<Semaphore>,
}

/// What the claim statement needs to know of this process's webhooks and tenants.
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
    /// Tenants that may take nothing more now (at their cap), and those with
    /// deliveries claimed here, and how many.
    pub excluded_tenants: Vec<String>,
    pub busy_tenants: Vec<String>,
    pub busy_tenant_counts: Vec<i32>,
}

/// Claims this process holds with each of them, and its in-flight caps.
pub struct Throttle {
    /// Most sends at once per webhook.
    cap: usize,
    /// Most sends at once per tenant.
    tenant_cap: usize,
    webhooks: HashMap<Uuid, WebhookState>,
    tenants: HashMap<String, TenantState>,
}

/// Whether `tenant` has a lane over its webhooks: every tenant but `default`.
fn capped(tenant: &str) -> bool {
    tenant != crate::domain::DEFAULT_TENANT
}

/// A claim's place in the throttle: the lanes its send must enter, and the
/// trip count to hand to `held_back`.
pub struct Lanes {
    pub webhook: Arc<Semaphore>,
    /// None for tenant `default`, which has no lane of its own.
    pub tenant: Option<Arc<Semaphore>>,
    pub trips: u64,
}

impl Throttle {
    pub fn new(cap: usize, tenant_cap: usize) -> Throttle {
        Throttle {
            cap,
            tenant_cap,
            webhooks: HashMap::new(),
            tenants: HashMap::new(),
        }
    }

    /// Most deliveries of one webhook claimed here at once: a full lane, and
    /// the rest waiting behind it.
    pub fn cap(&self) -> i32 {
        i32::try_from(self.cap.saturating_mul(PREFETCH)).unwrap_or(i32::MAX)
    }

    /// The same for one tenant, all its webhooks together.
    pub fn tenant_cap(&self) -> i32 {
        i32::try_from(self.tenant_cap.saturating_mul(PREFETCH)).unwrap_or(i32::MAX)
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
            excluded_tenants: Vec::new(),
            busy_tenants: Vec::new(),
            busy_tenant_counts: Vec::new(),
        };
        let tenant_cap = self.tenant_cap();
        for (key, t) in &self.tenants {
            if t.in_flight >= tenant_cap {
                limits.excluded_tenants.push(key.clone());
            } else {
                limits.busy_tenants.push(key.clone());
                limits.busy_tenant_counts.push(t.in_flight);
            }
        }
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

    /// Records a claimed delivery of `webhook`, which belongs to `tenant`.
    pub fn started(&mut self, webhook: Uuid, tenant: &str) -> Lanes {
        let w = self.state(webhook);
        w.in_flight += 1;
        let (lane, trips) = (w.lane.clone(), w.tripped);
        // Tenant `default` has no lane, so nothing of it is kept.
        let tenant_cap = self.tenant_cap;
        let tenant_lane = capped(tenant).then(|| {
            let t = self
                .tenants
                .entry(tenant.to_owned())
                .or_insert_with(|| TenantState {
                    in_flight: 0,
                    lane: Arc::new(Semaphore::new(tenant_cap)),
                });
            t.in_flight += 1;
            t.lane.clone()
        });
        Lanes {
            webhook: lane,
            tenant: tenant_lane,
            trips,
        }
    }

    /// A claim of `tenant` is over; true when the tenant had been at its cap.
    fn tenant_finished(&mut self, tenant: &str) -> bool {
        let cap = self.tenant_cap();
        let Some(t) = self.tenants.get_mut(tenant) else {
            return false;
        };
        let was_full = t.in_flight >= cap;
        t.in_flight -= 1;
        if t.in_flight <= 0 {
            // Its lane is empty: every send frees its permits before the
            // throttle hears it finished.
            self.tenants.remove(tenant);
        }
        was_full
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
    /// true when the webhook or its tenant had been at its cap (so the
    /// producer may now claim more of it).
    pub fn finished(&mut self, webhook: Uuid, tenant: &str, healthy: bool, now: Instant) -> bool {
        let tenant_was_full = self.tenant_finished(tenant);
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
        was_full || tenant_was_full
    }

    /// How often the breaker has paused the webhook since this process last
    /// forgot it: a finished attempt that raised this paused it.
    pub fn trips(&self, webhook: Uuid) -> u64 {
        self.webhooks.get(&webhook).map_or(0, |w| w.tripped)
    }

    /// An attempt that was abandoned (shutdown) frees its slot without a verdict.
    pub fn abandoned(&mut self, webhook: Uuid, tenant: &str) {
        self.tenant_finished(tenant);
        if let Some(w) = self.webhooks.get_mut(&webhook) {
            w.in_flight = (w.in_flight - 1).max(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "acme";

    /// Enough unhealthy answers in a row to trip the breaker.
    fn trip(t: &mut Throttle, w: Uuid, now: Instant) {
        for _ in 0..TRIP_AFTER {
            t.started(w, T);
            t.finished(w, T, false, now);
        }
    }

    #[test]
    fn a_webhook_at_its_cap_is_excluded_until_one_finishes() {
        let mut t = Throttle::new(1, 100);
        let w = Uuid::new_v4();
        let now = Instant::now();
        let lane = t.started(w, T).webhook;
        assert_eq!(lane.available_permits(), 1, "one send at once");
        let l = t.limits(now);
        assert_eq!(
            (l.busy, l.busy_counts, l.excluded.len()),
            (vec![w], vec![1], 0)
        );
        // One sending and the rest waiting behind it: no more claims.
        for _ in 1..PREFETCH {
            assert!(t.limits(now).excluded.is_empty());
            t.started(w, T);
        }
        assert_eq!(t.limits(now).excluded, vec![w]);
        assert!(t.finished(w, T, true, now));
        assert!(t.limits(now).excluded.is_empty());
    }

    #[test]
    fn unreachable_receivers_pause_with_growing_pauses_and_recover_on_an_answer() {
        let mut t = Throttle::new(100, 100);
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
        t.started(w, T);
        t.finished(w, T, false, later);
        assert_eq!(t.limits(later).next_resume, Some(later + FIRST_PAUSE * 2));
        // An answer closes the breaker.
        let much_later = later + MAX_PAUSE;
        t.limits(much_later);
        t.started(w, T);
        t.finished(w, T, true, much_later);
        t.started(w, T);
        t.finished(w, T, false, much_later);
        let l = t.limits(much_later);
        assert!(l.paused.is_empty() && l.excluded.is_empty());
    }

    #[test]
    fn after_a_pause_one_delivery_probes_until_the_receiver_answers() {
        let mut t = Throttle::new(8, 100);
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
        t.started(w, T);
        assert_eq!(
            t.limits(resumed).excluded,
            vec![w],
            "no second claim while probing"
        );
        t.finished(w, T, true, resumed);
        let l = t.limits(resumed);
        assert!(
            l.excluded.is_empty() && l.busy.is_empty(),
            "closed: no limit beyond the cap"
        );
    }

    #[test]
    fn claims_made_before_a_trip_are_held_back_even_after_the_pause() {
        let mut t = Throttle::new(8, 100);
        let w = Uuid::new_v4();
        let now = Instant::now();
        let before = t.started(w, T).trips;
        assert!(!t.held_back(w, before, now));
        trip(&mut t, w, now);
        assert!(t.held_back(w, before, now), "paused");
        let resumed = now + FIRST_PAUSE;
        t.limits(resumed);
        assert!(t.held_back(w, before, resumed), "claimed before the trip");
        let probe = t.started(w, T).trips;
        assert!(!t.held_back(w, probe, resumed), "the probe goes");
    }

    #[test]
    fn a_tenant_at_its_cap_is_excluded_whatever_webhook_its_claims_are_for() {
        let mut t = Throttle::new(100, 2);
        let now = Instant::now();
        let webhooks: Vec<Uuid> = (0..2 * PREFETCH).map(|_| Uuid::new_v4()).collect();
        let mut lanes = Vec::new();
        for w in &webhooks {
            assert!(t.limits(now).excluded_tenants.is_empty());
            lanes.push(t.started(*w, "busy"));
        }
        let l = t.limits(now);
        assert_eq!(l.excluded_tenants, vec!["busy".to_owned()]);
        assert!(l.excluded.is_empty(), "no webhook is at its own cap");
        let (first, second) = (lanes[0].tenant.as_ref(), lanes[1].tenant.as_ref());
        let (Some(first), Some(second)) = (first, second) else {
            panic!("tenant busy has a lane");
        };
        assert_eq!(first.available_permits(), 2, "two sends at once");
        assert!(Arc::ptr_eq(first, second), "one lane for the tenant");
        // Another tenant is not held by it.
        t.started(Uuid::new_v4(), "calm");
        let l = t.limits(now);
        assert_eq!(
            (l.busy_tenants, l.busy_tenant_counts),
            (vec!["calm".to_owned()], vec![1])
        );
        assert!(t.finished(webhooks[0], "busy", true, now), "was at its cap");
        assert!(t.limits(now).excluded_tenants.is_empty());
        for w in &webhooks[1..] {
            t.abandoned(*w, "busy");
        }
        assert!(
            !t.tenants.contains_key("busy"),
            "forgotten when nothing is in flight"
        );
    }

    #[test]
    fn tenant_default_has_no_lane_of_its_own() {
        let mut t = Throttle::new(100, 1);
        let now = Instant::now();
        let mut lanes = Vec::new();
        for _ in 0..2 * PREFETCH {
            lanes.push(t.started(Uuid::new_v4(), crate::domain::DEFAULT_TENANT));
        }
        let l = t.limits(now);
        assert!(l.excluded_tenants.is_empty() && l.busy_tenants.is_empty());
        assert!(lanes.iter().all(|l| l.tenant.is_none()));
    }
}
