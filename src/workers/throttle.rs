//! Per-webhook limits in this process: the in-flight cap and the circuit breaker.
//!
//! Both exist so that one customer's outage never slows the others. The cap
//! keeps a receiver that hangs until the timeout from occupying every worker.
//! The breaker keeps a receiver that refuses connections (or times out) from
//! burning the retry budget of its whole backlog in a tight loop: after
//! `TRIP_AFTER` consecutive unreachable attempts its deliveries are left in the
//! queue, unclaimed and uncounted, for a pause that doubles on every trip up to
//! `MAX_PAUSE`; one answer of any kind from the receiver closes it again.
//!
//! The state is in memory and per process: it shapes what this process claims,
//! and is rebuilt from experience after a restart.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;
use uuid::Uuid;

const TRIP_AFTER: u32 = 5;
const FIRST_PAUSE: Duration = Duration::from_secs(1);
const MAX_PAUSE: Duration = Duration::from_secs(60);

#[derive(Default)]
struct WebhookState {
    in_flight: i32,
    unreachable_in_a_row: u32,
    trips: u32,
    paused_until: Option<Instant>,
}

/// What the claim statement needs to know of this process's webhooks.
pub struct ClaimLimits {
    /// Webhooks that may take nothing more now: at the cap, or paused.
    pub excluded: Vec<Uuid>,
    /// Webhooks with deliveries in flight, and how many.
    pub busy: Vec<Uuid>,
    pub busy_counts: Vec<i32>,
    /// When the earliest pause ends, if any webhook is paused.
    pub next_resume: Option<Instant>,
}

pub struct Throttle {
    cap: i32,
    webhooks: HashMap<Uuid, WebhookState>,
}

impl Throttle {
    pub fn new(cap: usize) -> Throttle {
        Throttle {
            cap: i32::try_from(cap).unwrap_or(i32::MAX),
            webhooks: HashMap::new(),
        }
    }

    pub fn cap(&self) -> i32 {
        self.cap
    }

    pub fn limits(&mut self, now: Instant) -> ClaimLimits {
        let mut limits = ClaimLimits {
            excluded: Vec::new(),
            busy: Vec::new(),
            busy_counts: Vec::new(),
            next_resume: None,
        };
        for (id, w) in &mut self.webhooks {
            if w.paused_until.is_some_and(|t| t <= now) {
                w.paused_until = None;
            }
            if let Some(until) = w.paused_until {
                limits.excluded.push(*id);
                limits.next_resume = Some(limits.next_resume.map_or(until, |t| t.min(until)));
            } else if w.in_flight >= self.cap {
                limits.excluded.push(*id);
            } else if w.in_flight > 0 {
                limits.busy.push(*id);
                limits.busy_counts.push(w.in_flight);
            }
        }
        // Forget webhooks with nothing to remember, so the map stays small.
        self.webhooks.retain(|_, w| {
            w.in_flight > 0 || w.paused_until.is_some() || w.unreachable_in_a_row > 0
        });
        limits
    }

    pub fn started(&mut self, webhook: Uuid) {
        self.webhooks.entry(webhook).or_default().in_flight += 1;
    }

    /// Records a finished attempt; true when the webhook had been at its cap
    /// (so the producer may now claim more of it).
    pub fn finished(&mut self, webhook: Uuid, reachable: bool, now: Instant) -> bool {
        let w = self.webhooks.entry(webhook).or_default();
        let was_full = w.in_flight >= self.cap;
        w.in_flight = (w.in_flight - 1).max(0);
        if reachable {
            w.unreachable_in_a_row = 0;
            w.trips = 0;
        } else {
            w.unreachable_in_a_row += 1;
            if w.unreachable_in_a_row >= TRIP_AFTER && w.paused_until.is_none() {
                let pause = FIRST_PAUSE
                    .saturating_mul(1 << w.trips.min(16))
                    .min(MAX_PAUSE);
                w.trips += 1;
                w.paused_until = Some(now + pause);
                tracing::warn!(webhook_id = %webhook, pause = ?pause, "receiver unreachable; pausing its deliveries");
            }
        }
        was_full
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

    #[test]
    fn a_webhook_at_its_cap_is_excluded_until_one_finishes() {
        let mut t = Throttle::new(2);
        let w = Uuid::new_v4();
        let now = Instant::now();
        t.started(w);
        let l = t.limits(now);
        assert_eq!(
            (l.busy, l.busy_counts, l.excluded.len()),
            (vec![w], vec![1], 0)
        );
        t.started(w);
        assert_eq!(t.limits(now).excluded, vec![w]);
        assert!(t.finished(w, true, now));
        assert!(t.limits(now).excluded.is_empty());
    }

    #[test]
    fn unreachable_receivers_pause_with_growing_pauses_and_recover_on_an_answer() {
        let mut t = Throttle::new(100);
        let w = Uuid::new_v4();
        let now = Instant::now();
        for _ in 0..TRIP_AFTER {
            t.started(w);
            t.finished(w, false, now);
        }
        let l = t.limits(now);
        assert_eq!(l.excluded, vec![w]);
        assert_eq!(l.next_resume, Some(now + FIRST_PAUSE));
        // The pause ends; the next failure trips again, for twice as long.
        let later = now + FIRST_PAUSE;
        assert!(t.limits(later).excluded.is_empty());
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
        assert!(t.limits(much_later).excluded.is_empty());
    }
}
