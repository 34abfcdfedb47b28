//! Claiming due deliveries: who goes next, decided in one place.
//!
//! A claim is one short transaction of three statements, and every limit it
//! keeps is read from the database inside it, so the limits hold across every
//! process sharing the database. Lanes (webhooks) first, then rows:
//!
//! 1. `sql/claim_lanes.sql` sweeps the lanes that have pending rows, one index
//!    descent each, from where this process's last claim stopped, and locks
//!    those with due work that may take it (`SKIP LOCKED`), with their tenants.
//! 2. `sql/claim_counts.sql`, with a snapshot taken once the locks are held,
//!    counts what each lane and tenant has in flight, and reads each lane's
//!    due rows, oldest first, as many as it has room for.
//! 3. [`plan`] decides here, in plain Rust, how many rows each lane gets: its
//!    room under `max_in_flight`, its tenant's cap, its rate limit's slots in
//!    the next second, its breaker (probing: one at a time), shared
//!    round-robin so that no lane's backlog crowds out another.
//!    `sql/claim_take.sql` leases them.
//!
//! A blocked lane (paused, out of slots, at its cap) costs a claim one index
//! descent however deep its backlog, and nothing is written to pass it.
//!
//! The lease starts in the database, when the transaction began; the caller
//! measures it from the moment it sent the claim, which is earlier, so its
//! idea of the deadline is never later than the database's.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;
use uuid::Uuid;

use crate::domain::{TraceContext, DEFAULT_TENANT};
use crate::otel;
use crate::sql;
use crate::store::{Client, StoreError};

/// How far ahead a rate-limited lane's slots may be claimed: a claim waits
/// at most this long for its slot, so a limited backlog holds few claims.
const RATE_HORIZON: Duration = Duration::from_secs(1);

/// Slots are spaced this much wider than 1/`rate_limit`, so that an attempt
/// that starts a little late (up to [`RATE_LATE`], plus the jitter of reading
/// its webhook and opening a connection) cannot bring `rate_limit` + 1 starts
/// into one second: 30 ms a second of room. With 1% (10 ms), a test of 5/s
/// saw six requests in one second at the receiver.
const RATE_SLACK: f64 = 1.03;

/// How late after its slot an attempt may still start; later, it is handed
/// back (its slot unused) rather than crowd the next second.
pub const RATE_LATE: Duration = Duration::from_millis(5);

/// A claimed delivery: the event it carries, and which webhook it goes to. The
/// webhook's URL and secrets are not copied here: they may change before the
/// attempt starts, which reads them then (`delivery::targets`).
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: Uuid,
    pub webhook_id: Uuid,
    /// The tenant of the webhook and the event.
    pub tenant: String,
    /// The value of `attempts` after the claim: this attempt's number and the lease token.
    pub attempt: i32,
    /// This attempt's number within the current retry budget (1 = first try).
    pub attempt_in_budget: i32,
    /// The webhook's version when the claim was taken.
    pub webhook_version: i64,
    pub event_type: String,
    pub payload: String,
    pub event_created_at: DateTime<Utc>,
    /// When the claim was sent, before the database granted it: its lease
    /// runs out `lease` after this or later.
    pub claimed_at: Instant,
    /// A rate-limited webhook's slot: the attempt starts then, not before.
    pub slot: Option<Instant>,
    /// It has an ordering key: when it finishes, the next of its key comes forward.
    pub ordered: bool,
    /// The trace context its event keeps: each attempt sends a child of it.
    pub trace: Option<TraceContext>,
}

/// What bounds a claim.
#[derive(Debug, Clone)]
pub struct Limits {
    /// `max_in_flight` of webhooks that set none.
    pub max_in_flight: i32,
    /// Most in flight per tenant, all its webhooks together; `default` has no cap.
    pub tenant_cap: i32,
    pub lease: Duration,
}

/// What one claim did.
#[derive(Debug, Default)]
pub struct Claim {
    pub deliveries: Vec<Claimed>,
    /// The last lane its sweep reached: the next claim starts after it.
    pub cursor: Option<Uuid>,
    /// The sweep stopped before it had seen every lane: others may have
    /// due work.
    pub cut: bool,
    /// A lane with due work and room, or its tenant, was locked by another
    /// claim: it may have room once that claim commits.
    pub contended: bool,
}

/// A locked lane, as the claim reads it.
#[derive(Debug, Clone)]
struct Lane {
    webhook_id: Uuid,
    tenant: String,
    max_in_flight: Option<i32>,
    rate_limit: Option<i32>,
    /// Breaker trips since its last healthy answer: above 0, probe one at a time.
    trips: i32,
    /// How long until its next rate-limit slot (zero if free now).
    slot_in: Duration,
    /// Its due rows, oldest first, as many as it had room for.
    due: Vec<Uuid>,
    /// Attempts under way to it, across processes.
    in_flight: i32,
}

/// One attempt every this long, for `rate_limit` attempts per second.
fn spacing(rate_limit: i32) -> Duration {
    Duration::from_secs_f64(RATE_SLACK / f64::from(rate_limit.max(1)))
}

/// A lane's cap on attempts under way: its `max_in_flight` (or the
/// default), and one at a time while its breaker probes the receiver.
fn cap(lane: &Lane, default_cap: i32) -> i32 {
    let cap = lane.max_in_flight.unwrap_or(default_cap);
    if lane.trips > 0 {
        cap.min(1)
    } else {
        cap
    }
}

/// How many of its rate limit's slots a lane has in the next second
/// (`i32::MAX` without a limit).
fn slots(lane: &Lane) -> i32 {
    lane.rate_limit.map_or(i32::MAX, |rate| {
        let s = spacing(rate);
        match RATE_HORIZON.checked_sub(lane.slot_in) {
            None => 0,
            Some(left) => (left.as_secs_f64() / s.as_secs_f64()).floor() as i32 + 1,
        }
    })
}

/// How many rows a lane may take now, whatever its tenant's room.
fn room(lane: &Lane, default_cap: i32) -> i32 {
    (cap(lane, default_cap) - lane.in_flight)
        .min(slots(lane))
        .max(0)
}

/// Shares `want` claims among `lanes` (in the sweep's order), one per lane
/// per round, within each lane's room, its due rows and its tenant's room:
/// how many rows each lane takes.
fn plan(
    lanes: &[Lane],
    tenant_in_flight: &HashMap<String, i32>,
    want: usize,
    limits: &Limits,
) -> Vec<usize> {
    let rooms: Vec<usize> = lanes
        .iter()
        .map(|l| {
            usize::try_from(room(l, limits.max_in_flight))
                .unwrap_or(0)
                .min(l.due.len())
        })
        .collect();
    let mut tenant_room: HashMap<&str, i32> = HashMap::new();
    for l in lanes {
        if l.tenant != DEFAULT_TENANT {
            let used = tenant_in_flight.get(&l.tenant).copied().unwrap_or(0);
            tenant_room.insert(&l.tenant, (limits.tenant_cap - used).max(0));
        }
    }
    let mut take = vec![0; lanes.len()];
    let mut total = 0;
    let mut progress = true;
    while total < want && progress {
        progress = false;
        for (i, l) in lanes.iter().enumerate() {
            if total == want {
                break;
            }
            if take[i] >= rooms[i] {
                continue;
            }
            if let Some(r) = tenant_room.get_mut(l.tenant.as_str()) {
                if *r == 0 {
                    continue;
                }
                *r -= 1;
            }
            take[i] += 1;
            total += 1;
            progress = true;
        }
    }
    take
}

/// Claims up to `want` due deliveries, each within its lane's limits, and
/// leases them. `cursor`: where the last claim's sweep stopped.
pub async fn claim(
    client: &mut Client,
    want: usize,
    limits: &Limits,
    cursor: Option<Uuid>,
) -> Result<Claim, StoreError> {
    let sent = Instant::now();
    let tx = client.transaction().await?;
    // A claim looks at no more lanes with due work than it wants rows (each
    // one is locked and counted), and steps past at most four times as many
    // lanes whose rows all wait for a retry.
    let lanes_wanted = i32::try_from(want.max(16)).unwrap_or(i32::MAX);
    let steps = lanes_wanted.saturating_mul(4);
    let stmt = tx.prepare_cached(sql::CLAIM_LANES).await?;
    let rows = tx
        .query(
            &stmt,
            &[&cursor.unwrap_or(Uuid::nil()), &steps, &lanes_wanted],
        )
        .await?;
    let answered = Instant::now();
    let mut claim = Claim::default();
    if let Some(r) = rows.first() {
        claim.cursor = r.get("cursor");
        claim.cut = r.get("cut");
        claim.contended = r.get("contended");
    }
    let mut lanes: Vec<Lane> = rows
        .iter()
        .filter(|r| r.get::<_, Option<Uuid>>("webhook_id").is_some())
        .map(|r| {
            let slot_in_us: i64 = r.get("slot_in_us");
            Lane {
                webhook_id: r.get("webhook_id"),
                tenant: r.get("tenant"),
                max_in_flight: r.get("max_in_flight"),
                rate_limit: r.get("rate_limit"),
                trips: r.get("trips"),
                slot_in: Duration::from_micros(u64::try_from(slot_in_us).unwrap_or(0)),
                due: Vec::new(),
                in_flight: 0,
            }
        })
        .collect();
    if lanes.is_empty() {
        tx.commit().await?;
        return Ok(claim);
    }
    // From here, not from the start: an idle poll finds no lanes, and a
    // span a second saying so would bury the claims that took work.
    // Not entered: it times the claim from here until it is dropped.
    let span = otel::claim_span();
    let ids: Vec<Uuid> = lanes.iter().map(|l| l.webhook_id).collect();
    let caps: Vec<i32> = lanes.iter().map(|l| cap(l, limits.max_in_flight)).collect();
    let want_i32 = i32::try_from(want).unwrap_or(i32::MAX);
    let most: Vec<i32> = lanes.iter().map(|l| slots(l).min(want_i32)).collect();
    let mut tenants: Vec<String> = lanes
        .iter()
        .filter(|l| l.tenant != DEFAULT_TENANT)
        .map(|l| l.tenant.clone())
        .collect();
    tenants.sort_unstable();
    tenants.dedup();
    let stmt = tx.prepare_cached(sql::CLAIM_COUNTS).await?;
    let rows = tx.query(&stmt, &[&ids, &caps, &most, &tenants]).await?;
    for (lane, row) in lanes.iter_mut().zip(&rows) {
        lane.in_flight = row.get("in_flight");
        lane.due = row.get("due");
    }
    let tenant_counts: Vec<i32> = rows.first().map(|r| r.get("tenants")).unwrap_or_default();
    let tenant_in_flight: HashMap<String, i32> = tenants.into_iter().zip(tenant_counts).collect();
    let take = plan(&lanes, &tenant_in_flight, want, limits);

    let chosen: Vec<Uuid> = lanes
        .iter()
        .zip(&take)
        .flat_map(|(l, n)| l.due.iter().take(*n).copied())
        .collect();
    if chosen.is_empty() {
        tx.commit().await?;
        return Ok(claim);
    }
    let (limited, spacing_us): (Vec<Uuid>, Vec<i64>) = lanes
        .iter()
        .filter_map(|l| {
            l.rate_limit.map(|r| {
                (
                    l.webhook_id,
                    i64::try_from(spacing(r).as_micros()).unwrap_or(i64::MAX),
                )
            })
        })
        .unzip();
    let lease_ms = i64::try_from(limits.lease.as_millis()).unwrap_or(i64::MAX);
    let stmt = tx.prepare_cached(sql::CLAIM_TAKE).await?;
    let rows = tx
        .query(&stmt, &[&chosen, &lease_ms, &limited, &spacing_us])
        .await?;
    tx.commit().await?;

    let by_id: HashMap<Uuid, &Lane> = lanes.iter().map(|l| (l.webhook_id, l)).collect();
    let mut place: HashMap<Uuid, u32> = HashMap::new();
    claim.deliveries = rows
        .iter()
        .map(|r| {
            let webhook_id: Uuid = r.get("webhook_id");
            // The n-th row taken from a rate-limited lane has the n-th slot
            // from the lane's next one (the rows come back in that order).
            let slot = by_id
                .get(&webhook_id)
                .and_then(|l| l.rate_limit.map(|rate| (l.slot_in, spacing(rate))))
                .map(|(first, s)| {
                    let n = place.entry(webhook_id).or_insert(0);
                    let at = answered + first + s * *n;
                    *n += 1;
                    at
                });
            Claimed {
                id: r.get("id"),
                webhook_id,
                tenant: r.get("tenant"),
                attempt: r.get("attempts"),
                attempt_in_budget: r.get("attempt_in_budget"),
                webhook_version: r.get("webhook_version"),
                event_type: r.get("event_type"),
                payload: r.get("payload"),
                event_created_at: r.get("event_created_at"),
                claimed_at: sent,
                slot,
                ordered: r.get("ordered"),
                trace: r
                    .get::<_, Option<&str>>("trace_parent")
                    .and_then(|p| TraceContext::parse(Some(p), r.get("trace_state"))),
            }
        })
        .collect::<Vec<_>>();
    otel::claimed(&span, &claim.deliveries);
    Ok(claim)
}

/// How long until something may be claimable (zero if something is due
/// now), or `None` when nothing is pending (sql/next_due.sql).
pub async fn next_due(client: &Client) -> Result<Option<Duration>, StoreError> {
    let stmt = client.prepare_cached(sql::NEXT_DUE).await?;
    let wait_ms: Option<i64> = client.query_one(&stmt, &[]).await?.get("wait_ms");
    Ok(wait_ms.map(|ms| Duration::from_millis(u64::try_from(ms).unwrap_or(0))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lane(tenant: &str, due: usize) -> Lane {
        Lane {
            webhook_id: Uuid::new_v4(),
            tenant: tenant.into(),
            max_in_flight: None,
            rate_limit: None,
            trips: 0,
            slot_in: Duration::ZERO,
            due: (0..due).map(|_| Uuid::new_v4()).collect(),
            in_flight: 0,
        }
    }

    fn limits() -> Limits {
        Limits {
            max_in_flight: 10,
            tenant_cap: 4,
            lease: Duration::from_secs(40),
        }
    }

    #[test]
    fn lanes_share_a_claim_round_robin_within_their_room() {
        let mut busy = lane("default", 100);
        busy.in_flight = 7;
        let mut full = lane("default", 5);
        full.in_flight = 10;
        let quiet = lane("default", 2);
        let take = plan(&[busy, full, quiet], &HashMap::new(), 256, &limits());
        assert_eq!(take, vec![3, 0, 2], "the busy lane has 3 places left");
        let take = plan(
            &[lane("default", 100), lane("default", 100)],
            &HashMap::new(),
            5,
            &limits(),
        );
        assert_eq!(take, vec![3, 2]);
    }

    #[test]
    fn a_tenant_cap_spans_its_lanes() {
        let lanes = [lane("acme", 5), lane("acme", 5), lane("other", 1)];
        let used = HashMap::from([("acme".to_owned(), 1)]);
        assert_eq!(plan(&lanes, &used, 256, &limits()), vec![2, 1, 1]);
        let full = HashMap::from([("acme".to_owned(), 4)]);
        assert_eq!(plan(&lanes, &full, 256, &limits()), vec![0, 0, 1]);
    }

    #[test]
    fn probing_lanes_go_one_at_a_time() {
        let mut probing = lane("default", 3);
        probing.trips = 2;
        let mut probed = probing.clone();
        probed.in_flight = 1;
        assert_eq!(cap(&probing, 10), 1);
        assert_eq!(
            plan(&[probing, probed], &HashMap::new(), 256, &limits()),
            vec![1, 0]
        );
    }

    #[test]
    fn a_rate_limit_takes_the_slots_of_the_next_second() {
        let mut limited = lane("default", 100);
        limited.max_in_flight = Some(1000);
        limited.rate_limit = Some(20);
        assert_eq!(slots(&limited), 20);
        assert_eq!(
            plan(&[limited.clone()], &HashMap::new(), 256, &limits()),
            vec![20]
        );
        limited.slot_in = Duration::from_millis(900);
        assert_eq!(
            plan(&[limited.clone()], &HashMap::new(), 256, &limits()),
            vec![2]
        );
        limited.slot_in = Duration::from_millis(1500);
        assert_eq!(plan(&[limited], &HashMap::new(), 256, &limits()), vec![0]);
    }

    #[test]
    fn a_lane_takes_no_more_than_its_due_rows() {
        let short = lane("default", 1);
        let long = lane("default", 300);
        assert_eq!(
            plan(&[short, long], &HashMap::new(), 8, &limits()),
            vec![1, 7]
        );
    }

    #[test]
    fn slots_are_a_little_wider_than_the_limit() {
        assert!(spacing(1000) > Duration::from_millis(1));
        assert!(spacing(1000) < Duration::from_micros(1040));
        assert!(spacing(1) > Duration::from_secs(1));
    }
}
