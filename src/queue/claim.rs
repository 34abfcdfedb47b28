//! Claiming due deliveries: who goes next, decided in one place.
//!
//! A claim is one short transaction of three statements, and every limit it
//! keeps is read from the database inside it, so the limits hold across every
//! process sharing the database:
//!
//! 1. `sql/claim_lanes.sql` finds the lanes (webhooks) that may have due work
//!    (the head of the due index, and lanes with parked rows) and locks them,
//!    `SKIP LOCKED`, with their tenants.
//! 2. `sql/claim_counts.sql`, with a snapshot taken once the locks are held,
//!    counts what each lane and tenant has in flight.
//! 3. [`plan`] decides here, in plain Rust, how many rows each lane gets:
//!    its room under `max_in_flight`, its tenant's cap, its rate limit's
//!    slots in the next second, its breaker (paused: none; probing: one at a
//!    time), shared round-robin so that no lane's backlog crowds out another.
//!    `sql/claim_take.sql` takes them, parks the due rows of lanes that had
//!    less room than work (so no later claim reads past them), and leases
//!    what it took.
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
    /// It parked rows: what lies behind them in the due index may be
    /// claimable now, so look again at once rather than wait.
    pub more: bool,
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
    paused: bool,
    has_parked: bool,
    /// How long until its next rate-limit slot (zero if free now).
    slot_in: Duration,
    /// Its due rows the claim walked past, oldest first.
    walked: Vec<Uuid>,
    /// Attempts under way to it, across processes.
    in_flight: i32,
}

/// How many rows each lane gets, and which lanes' walked rows to park.
#[derive(Debug, PartialEq, Eq)]
struct Plan {
    take: Vec<i32>,
    park: Vec<Uuid>,
}

/// One attempt every this long, for `rate_limit` attempts per second.
fn spacing(rate_limit: i32) -> Duration {
    Duration::from_secs_f64(RATE_SLACK / f64::from(rate_limit.max(1)))
}

/// How many rows a lane may take now, whatever its tenant's room.
fn room(lane: &Lane, default_cap: i32) -> i32 {
    if lane.paused {
        return 0;
    }
    let cap = lane.max_in_flight.unwrap_or(default_cap);
    let mut room = cap - lane.in_flight;
    if lane.trips > 0 {
        // After a pause, one attempt at a time probes the receiver.
        room = room.min(1 - lane.in_flight);
    }
    if let Some(rate) = lane.rate_limit {
        let s = spacing(rate);
        let slots = match RATE_HORIZON.checked_sub(lane.slot_in) {
            None => 0,
            Some(left) => (left.as_secs_f64() / s.as_secs_f64()).floor() as i32 + 1,
        };
        room = room.min(slots);
    }
    room.max(0)
}

/// Shares `want` claims among `lanes` (in their order: the oldest due work
/// first), one per lane per round, within each lane's room and its tenant's.
fn plan(
    lanes: &[Lane],
    tenant_in_flight: &HashMap<String, i32>,
    want: usize,
    limits: &Limits,
) -> Plan {
    let rooms: Vec<i32> = lanes
        .iter()
        .map(|l| {
            let work = l.walked.len() as i32 + if l.has_parked { i32::MAX / 2 } else { 0 };
            room(l, limits.max_in_flight).min(work)
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
    // The walked rows a lane could not take are parked, so the next claims
    // do not read past them, when what held the lane back will hold it for a
    // while: a pause, its rate limit's slots for the next second, or (in a
    // claim that was not cut short by its own size) its own or its tenant's
    // limit before it took any. A lane that took some under its concurrency
    // keeps the rest due: it is busy, not blocked, and parking every row of a
    // busy lane's backlog cost a write per delivery (one webhook drained
    // 5,900/s with it). A rate-limited lane's rows beyond its slots are
    // parked at once: left due, a backlog of 100,000 at one such webhook sat
    // at the head of the due index, walked by every claim, and the webhook
    // beside it drained at an eighth of its rate.
    let park = lanes
        .iter()
        .zip(take.iter().zip(&rooms))
        .filter(|(l, (t, room))| {
            let left = (**t as usize) < l.walked.len();
            let out_of_slots = l.rate_limit.is_some() && **t >= **room;
            left && (l.paused || out_of_slots || (**t == 0 && total < want))
        })
        .map(|(l, _)| l.webhook_id)
        .collect();
    Plan { take, park }
}

/// Rows walked by a claim that follows one that parked rows.
const DEEP_WALK: usize = 1024;

/// Claims up to `want` due deliveries, each within its lane's limits, and
/// leases them. `deep`: the last claim parked rows, so more may lie ahead.
pub async fn claim(
    client: &mut Client,
    want: usize,
    limits: &Limits,
    deep: bool,
) -> Result<Claim, StoreError> {
    let sent = Instant::now();
    let tx = client.transaction().await?;
    // About as many rows as the claim wants: blocked lanes' rows are parked,
    // so few rows ahead are ones it may not take, and every lane walked is one
    // more to lock and count (four times as many cost the tenants scenario,
    // a lane per row, two thirds of its drain rate). But after a claim that
    // parked, a blocked lane's backlog may lie ahead: walked 64 rows at a
    // time, 100,000 at a rate-limited webhook took 1,500 claims to park while
    // the webhook beside it waited behind them.
    let walk = if deep { DEEP_WALK } else { want.max(64) };
    let walk = i64::try_from(walk).unwrap_or(i64::MAX);
    let waiting_lanes = i64::try_from(want.max(16)).unwrap_or(i64::MAX);
    let stmt = tx.prepare_cached(sql::CLAIM_LANES).await?;
    let rows = tx.query(&stmt, &[&walk, &waiting_lanes]).await?;
    let answered = Instant::now();
    let mut lanes: Vec<Lane> = rows
        .iter()
        .map(|r| {
            let slot_in_us: i64 = r.get("slot_in_us");
            Lane {
                webhook_id: r.get("webhook_id"),
                tenant: r.get("tenant"),
                max_in_flight: r.get("max_in_flight"),
                rate_limit: r.get("rate_limit"),
                trips: r.get("trips"),
                paused: r.get("paused"),
                has_parked: r.get("parked"),
                slot_in: Duration::from_micros(u64::try_from(slot_in_us).unwrap_or(0)),
                walked: r.get("walked"),
                in_flight: 0,
            }
        })
        .collect();
    if lanes.is_empty() {
        tx.commit().await?;
        return Ok(Claim::default());
    }
    // From here, not from the start: an idle poll finds no lanes, and a
    // span a second saying so would bury the claims that took work.
    // Not entered: it times the claim from here until it is dropped.
    let span = otel::claim_span();
    // Lanes with the oldest walked work first; lanes with only parked work after.
    lanes.sort_by_key(|l| l.walked.is_empty());
    let ids: Vec<Uuid> = lanes.iter().map(|l| l.webhook_id).collect();
    let mut tenants: Vec<String> = lanes
        .iter()
        .filter(|l| l.tenant != DEFAULT_TENANT)
        .map(|l| l.tenant.clone())
        .collect();
    tenants.sort_unstable();
    tenants.dedup();
    let stmt = tx.prepare_cached(sql::CLAIM_COUNTS).await?;
    let counts = tx.query_one(&stmt, &[&ids, &tenants]).await?;
    let lane_counts: Vec<i32> = counts.get("lanes");
    let tenant_counts: Vec<i32> = counts.get("tenants");
    for (lane, n) in lanes.iter_mut().zip(lane_counts) {
        lane.in_flight = n;
    }
    let tenant_in_flight: HashMap<String, i32> = tenants.into_iter().zip(tenant_counts).collect();
    let plan = plan(&lanes, &tenant_in_flight, want, limits);

    let has_parked: Vec<bool> = lanes.iter().map(|l| l.has_parked).collect();
    let walked: Vec<Uuid> = lanes
        .iter()
        .flat_map(|l| l.walked.iter().copied())
        .collect();
    let spacing_us: Vec<i64> = lanes
        .iter()
        .map(|l| {
            l.rate_limit.map_or(0, |r| {
                i64::try_from(spacing(r).as_micros()).unwrap_or(i64::MAX)
            })
        })
        .collect();
    let lease_ms = i64::try_from(limits.lease.as_millis()).unwrap_or(i64::MAX);
    let stmt = tx.prepare_cached(sql::CLAIM_TAKE).await?;
    let rows = tx
        .query(
            &stmt,
            &[
                &ids,
                &plan.take,
                &has_parked,
                &walked,
                &plan.park,
                &lease_ms,
                &spacing_us,
            ],
        )
        .await?;
    tx.commit().await?;

    let by_id: HashMap<Uuid, &Lane> = lanes.iter().map(|l| (l.webhook_id, l)).collect();
    let mut place: HashMap<Uuid, u32> = HashMap::new();
    let deliveries = rows
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
    otel::claimed(&span, &deliveries);
    Ok(Claim {
        deliveries,
        more: !plan.park.is_empty(),
    })
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

    fn lane(tenant: &str, walked: usize) -> Lane {
        Lane {
            webhook_id: Uuid::new_v4(),
            tenant: tenant.into(),
            max_in_flight: None,
            rate_limit: None,
            trips: 0,
            paused: false,
            has_parked: false,
            slot_in: Duration::ZERO,
            walked: (0..walked).map(|_| Uuid::new_v4()).collect(),
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
        let p = plan(
            &[busy, full.clone(), quiet],
            &HashMap::new(),
            256,
            &limits(),
        );
        assert_eq!(p.take, vec![3, 0, 2], "the busy lane has 3 places left");
        assert_eq!(
            p.park,
            vec![full.webhook_id],
            "the full lane's rows are parked"
        );
        let p = plan(
            &[lane("default", 100), lane("default", 100)],
            &HashMap::new(),
            5,
            &limits(),
        );
        assert_eq!(p.take, vec![3, 2]);
        assert!(p.park.is_empty(), "cut by the claim's size: nothing parked");
    }

    #[test]
    fn a_tenant_cap_spans_its_lanes() {
        let lanes = [lane("acme", 5), lane("acme", 5), lane("other", 1)];
        let used = HashMap::from([("acme".to_owned(), 1)]);
        let p = plan(&lanes, &used, 256, &limits());
        assert_eq!(p.take, vec![2, 1, 1]);
        let full = HashMap::from([("acme".to_owned(), 4)]);
        let p = plan(&lanes, &full, 256, &limits());
        assert_eq!(p.take, vec![0, 0, 1]);
        assert_eq!(p.park, vec![lanes[0].webhook_id, lanes[1].webhook_id]);
    }

    #[test]
    fn paused_lanes_take_nothing_and_probing_lanes_one_at_a_time() {
        let mut paused = lane("default", 3);
        paused.paused = true;
        let mut probing = lane("default", 3);
        probing.trips = 2;
        let mut probed = probing.clone();
        probed.in_flight = 1;
        let p = plan(&[paused, probing, probed], &HashMap::new(), 256, &limits());
        assert_eq!(p.take, vec![0, 1, 0]);
    }

    #[test]
    fn a_rate_limit_takes_the_slots_of_the_next_second() {
        let mut limited = lane("default", 100);
        limited.max_in_flight = Some(1000);
        limited.rate_limit = Some(20);
        assert_eq!(
            plan(&[limited.clone()], &HashMap::new(), 256, &limits()).take,
            vec![20]
        );
        limited.slot_in = Duration::from_millis(900);
        assert_eq!(
            plan(&[limited.clone()], &HashMap::new(), 256, &limits()).take,
            vec![2]
        );
        limited.slot_in = Duration::from_millis(1500);
        assert_eq!(
            plan(&[limited], &HashMap::new(), 256, &limits()).take,
            vec![0]
        );
    }

    #[test]
    fn a_rate_limited_or_paused_lane_parks_what_it_cannot_take() {
        let mut limited = lane("default", 100);
        limited.rate_limit = Some(5);
        let mut paused = lane("default", 3);
        paused.paused = true;
        let busy = lane("default", 300);
        // The claim is cut short by its size (the busy lane could take more),
        // and still the limited and the paused lanes' rows are parked.
        let p = plan(
            &[limited.clone(), paused.clone(), busy],
            &HashMap::new(),
            10,
            &limits(),
        );
        assert_eq!(p.take, vec![5, 0, 5]);
        assert_eq!(p.park, vec![limited.webhook_id, paused.webhook_id]);
    }

    #[test]
    fn slots_are_a_little_wider_than_the_limit() {
        assert!(spacing(1000) > Duration::from_millis(1));
        assert!(spacing(1000) < Duration::from_micros(1040));
        assert!(spacing(1) > Duration::from_secs(1));
    }
}
