//! Deleting a tenant while events for it pour in: a seeded race, checked from
//! what the emitters were answered and what is left once the tenant's key is
//! used again.
//!
//! Several tasks emit large events to tenant `doomed` (and two to `kept`,
//! whose events share the same group-commit batches) while
//! `DELETE /tenants/doomed` runs. Each seed draws how many emit and how large
//! the payloads are (large ones make each batch's statement long, which is
//! the window the race needs), whether each task's events carry ordering keys
//! or Idempotency-Keys (the other two ways an event is inserted), whether they
//! reach a webhook, how many webhooks `doomed` has, and when the delete comes.
//! Afterwards, once `PUT /tenants/doomed` creates the tenant anew:
//!
//! - nothing of the old `doomed` is visible, through the API or in the
//!   tables (events, deliveries, idempotency keys): every event accepted
//!   before or during the delete went with it, and the new tenant starts empty;
//! - every emit to `doomed` was answered 201 or a 422 naming `tenant` (a
//!   tenant being deleted is no tenant), and every emit sent after the delete
//!   returned, a 422;
//! - every emit to `kept` was answered 201, and its event is stored.
//!
//! The plan follows from the seed, printed first: `HOOKRELAY_TEST_SEEDS=1,2,3`
//! (or `=1..50`) runs those. Timing is the machine's, so a seed that fails
//! may not fail every run; it goes into `SEEDS` below once it has.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::distributions::Alphanumeric;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{eventually, seeds, spawn_app_with, Process, Receiver, TestApp};

/// The seeds CI runs, and seeds that once failed. 5, 7 and 9 draw no webhook
/// for `doomed`, so the delete waits for no send before its purge: without
/// the ingest's lock on the tenant, each left events behind in two runs out
/// of three. 1 draws two webhooks, and ordered and keyed emitters.
const SEEDS: &[u64] = &[1, 5, 7, 9];

#[derive(Debug)]
struct Plan {
    /// The tasks that emit to `doomed`.
    doomed: Vec<Emitter>,
    /// How many events each task (`kept`'s too) sends, one after another.
    events_each: usize,
    /// The size of each payload's filler.
    payload_bytes: usize,
    /// Webhooks of `doomed`, subscribed to `order.created`.
    webhooks: usize,
    /// The delete is sent once this many emits to `doomed` were answered.
    delete_after: usize,
}

#[derive(Debug, Clone, Copy)]
struct Emitter {
    /// Each event has one of three ordering keys (sql/event_insert_ordered.sql).
    ordered: bool,
    /// Each event has an Idempotency-Key of its own (its own transaction).
    keyed: bool,
    /// `order.created`, which the webhooks take; else `order.noted`, which no
    /// webhook takes, so the event has no delivery to be held up by.
    subscribed: bool,
}

fn plan(seed: u64) -> Plan {
    let mut rng = StdRng::seed_from_u64(seed);
    let doomed: Vec<Emitter> = (0..rng.gen_range(16..=40))
        .map(|_| Emitter {
            ordered: rng.gen_bool(0.3),
            keyed: rng.gen_bool(0.5),
            subscribed: rng.gen_bool(0.6),
        })
        .collect();
    let delete_after = rng.gen_range(1..=doomed.len());
    Plan {
        events_each: rng.gen_range(3..=8),
        payload_bytes: rng.gen_range(64..=240) << 10,
        webhooks: rng.gen_range(0..=2),
        delete_after,
        doomed,
    }
}

/// One emit and its answer.
struct Answer {
    tenant: &'static str,
    sent: Instant,
    answered: Instant,
    status: u16,
    detail: String,
}

async fn emit_all(
    app: Arc<TestApp>,
    tenant: &'static str,
    emitter: Emitter,
    events: usize,
    filler: Arc<String>,
    answered: Arc<AtomicUsize>,
) -> Vec<Answer> {
    let mut answers = Vec::with_capacity(events);
    for n in 0..events {
        let event_type = if emitter.subscribed {
            "order.created"
        } else {
            "order.noted"
        };
        let mut body = json!({
            "tenant": tenant,
            "type": event_type,
            "payload": {"n": n, "filler": filler.as_str()},
        });
        if emitter.ordered {
            body["ordering_key"] = json!(format!("key-{}", n % 3));
        }
        let mut request = app.http.post(format!("{}/events", app.address)).json(&body);
        if emitter.keyed {
            request = request.header("Idempotency-Key", Uuid::new_v4().to_string());
        }
        let sent = Instant::now();
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let problem: Value = response.json().await.unwrap_or(Value::Null);
        answers.push(Answer {
            tenant,
            sent,
            answered: Instant::now(),
            status,
            detail: problem["detail"].as_str().unwrap_or_default().to_owned(),
        });
        answered.fetch_add(1, Ordering::Relaxed);
    }
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_deleted_while_events_pour_in_leaves_none_of_them_behind() {
    for seed in seeds(SEEDS) {
        race(seed).await;
    }
}

async fn race(seed: u64) {
    println!("tenant deletion race: seed {seed} (HOOKRELAY_TEST_SEEDS={seed} runs it alone)");
    let plan = plan(seed);
    println!("seed {seed}: {plan:?}");
    let app = Arc::new(spawn_app_with(|c| c.workers = 4).await);
    // The delete goes to another process sharing the database, as an
    // operator's tool may reach another replica than the traffic does: its
    // purge then runs as soon as the delete is done, not behind the requests
    // this process is busy with.
    let replica = Process::start(&app.database_url, &[("HOOKRELAY_WORKERS", "0")]).await;
    app.create_tenant("doomed").await;
    app.create_tenant("kept").await;
    let receiver = Receiver::ok().await;
    for _ in 0..plan.webhooks {
        app.create_webhook_for("doomed", &receiver.url, &["order.created"])
            .await;
    }
    app.create_webhook_for("kept", &receiver.url, &["order.created"])
        .await;
    // Text that does not compress, so every payload is stored out of line at
    // its full size.
    let filler: Arc<String> = Arc::new(
        StdRng::seed_from_u64(seed ^ 0xF111)
            .sample_iter(&Alphanumeric)
            .take(plan.payload_bytes)
            .map(char::from)
            .collect(),
    );

    let doomed_answered = Arc::new(AtomicUsize::new(0));
    let kept_answered = Arc::new(AtomicUsize::new(0));
    let kept = Emitter {
        ordered: false,
        keyed: false,
        subscribed: true,
    };
    let tasks: Vec<_> = plan
        .doomed
        .iter()
        .map(|e| ("doomed", *e, doomed_answered.clone()))
        .chain([kept, kept].map(|e| ("kept", e, kept_answered.clone())))
        .map(|(tenant, emitter, answered)| {
            tokio::spawn(emit_all(
                app.clone(),
                tenant,
                emitter,
                plan.events_each,
                filler.clone(),
                answered,
            ))
        })
        .collect();
    let under_way = eventually(Duration::from_secs(60), || async {
        doomed_answered.load(Ordering::Relaxed) >= plan.delete_after
    })
    .await;
    assert!(under_way, "seed {seed}: the emitters did not get going");

    let delete_sent = Instant::now();
    let deleted = app
        .http
        .delete(format!("{}/tenants/doomed", replica.address))
        .send()
        .await
        .expect("request");
    assert_eq!(deleted.status(), 204, "seed {seed}");
    let delete_returned = Instant::now();
    let mut answers = Vec::new();
    for task in tasks {
        answers.extend(task.await.expect("an emitter"));
    }

    // The key can be used again once the old tenant's rows are gone.
    let recreated = eventually(Duration::from_secs(30), || async {
        app.call("PUT", "/tenants/doomed", None, None).await.0 == 201
    })
    .await;
    assert!(
        recreated,
        "seed {seed}: PUT /tenants/doomed never created the tenant anew: the old one's rows were not all purged"
    );

    // Nothing of the old tenant is left, for the new one to see or for anyone.
    let events = app.get_json("/events?tenant=doomed").await;
    let events = events["data"].as_array().expect("data").len();
    let deliveries = app.get_json("/deliveries?tenant=doomed").await;
    let deliveries = deliveries["data"].as_array().expect("data").len();
    let left = app
        .db
        .query_one(
            "SELECT (SELECT count(*) FROM events WHERE tenant = 'doomed'),
                    (SELECT count(*) FROM deliveries WHERE tenant = 'doomed'),
                    (SELECT count(*) FROM idempotency_keys WHERE tenant = 'doomed')",
            &[],
        )
        .await
        .expect("count what is left");
    let left: (i64, i64, i64) = (left.get(0), left.get(1), left.get(2));
    assert_eq!(
        (events, deliveries, left),
        (0, 0, (0, 0, 0)),
        "seed {seed}: the new tenant doomed sees events and deliveries of the deleted one \
         (API: events, deliveries; tables: events, deliveries, idempotency keys)"
    );

    // What the emitters were told.
    let (doomed, kept): (Vec<&Answer>, Vec<&Answer>) =
        answers.iter().partition(|a| a.tenant == "doomed");
    for a in &doomed {
        assert!(
            a.status == 201 || (a.status == 422 && a.detail.starts_with("tenant")),
            "seed {seed}: an emit to doomed answered {} {:?}",
            a.status,
            a.detail
        );
        assert!(
            a.sent < delete_returned || a.status == 422,
            "seed {seed}: an emit sent after the delete returned was accepted"
        );
    }
    let across = doomed
        .iter()
        .filter(|a| a.sent < delete_sent && a.answered > delete_sent)
        .count();
    let accepted = doomed.iter().filter(|a| a.status == 201).count();
    println!(
        "seed {seed}: {accepted} of {} emits to doomed accepted, {across} under way when the delete was sent",
        doomed.len()
    );
    assert!(
        across > 0,
        "seed {seed}: no emit was under way when the delete began: the run proved nothing"
    );
    assert!(
        kept.iter().all(|a| a.status == 201),
        "seed {seed}: an emit to kept was refused"
    );
    assert_eq!(
        app.count("events WHERE tenant = 'kept'").await,
        kept.len() as i64,
        "seed {seed}: every event accepted for kept is stored"
    );
    match Arc::try_unwrap(app) {
        Ok(app) => app.shutdown().await,
        Err(_) => panic!("seed {seed}: an emitter still holds the app"),
    }
}
