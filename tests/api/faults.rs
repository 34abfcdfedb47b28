//! Faults injected for real: processes killed and stopped, a database stopped
//! and started, receivers that hang, several replicas on one database.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{
    eventually, fresh_database, insert_backlog, spawn_app_on, test_config, OwnCluster, Process,
    Receiver, Reply,
};

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

async fn count_where(db: &tokio_postgres::Client, condition: &str) -> i64 {
    db.query_one(
        &format!("SELECT count(*) FROM deliveries WHERE {condition}"),
        &[],
    )
    .await
    .unwrap()
    .get(0)
}

/// The first column of every row a query returns.
async fn column(db: &tokio_postgres::Client, query: &str) -> HashSet<String> {
    db.query(query, &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Registers a webhook through a process's API.
async fn register(address: &str, url: &str) -> String {
    let r = reqwest::Client::new()
        .post(format!("{address}/webhooks"))
        .json(&json!({"url": url, "event_types": ["*"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    r.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// How many times the receiver got each delivery id.
fn received_ids(receiver: &Receiver) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for r in receiver.received() {
        *seen.entry(r.header("webhook-id").to_owned()).or_insert(0) += 1;
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_backlog_loses_nothing_and_duplicates_only_what_was_in_flight() {
    let url = fresh_database().await;
    let db = connect(&url).await;
    let receiver = Receiver::start(|_| Reply::status(200).after(Duration::from_millis(5))).await;
    let first = Process::start(
        &url,
        &[
            // The shortest lease a 1 s timeout allows: what the kill left claimed comes back soon.
            ("HOOKRELAY_DELIVERY_TIMEOUT", "1s"),
            ("HOOKRELAY_LEASE", "3s"),
            ("HOOKRELAY_WORKERS", "32"),
        ],
    )
    .await;
    let webhooks: Vec<String> =
        futures_util::future::join_all((0..4).map(|_| register(&first.address, &receiver.url)))
            .await;
    let ids: Vec<&str> = webhooks.iter().map(String::as_str).collect();
    insert_backlog(&db, &ids, 500).await;

    assert!(
        eventually(Duration::from_secs(60), || async {
            receiver.count() >= 300
        })
        .await
    );
    first.signal("KILL");
    drop(first);
    // A claim the process sent just before dying still commits: wait until its
    // sessions are gone before taking the snapshot of what was in flight.
    let gone = eventually(Duration::from_secs(10), || async {
        let n: i64 = db
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'hookrelay'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        n == 0
    })
    .await;
    assert!(gone, "the killed process's database sessions linger");
    let in_flight = column(
        &db,
        "SELECT id::text FROM deliveries WHERE status = 'processing'",
    )
    .await;
    assert!(
        count_where(&db, "status = 'pending'").await > 0,
        "the kill came mid-backlog"
    );

    // The short lease was the killed process's (it is set at claim time); this one keeps the default.
    let _second = Process::start(&url, &[]).await;
    let drained = eventually(Duration::from_secs(120), || async {
        count_where(&db, "status = 'success'").await == 2000
    })
    .await;
    assert!(drained, "not every delivery reached success");
    let seen = received_ids(&receiver);
    assert_eq!(seen.len(), 2000, "every delivery reached the receiver");
    for (id, n) in &seen {
        if *n > 1 {
            assert!(
                in_flight.contains(id),
                "{id} was received {n} times but was not in flight at the kill"
            );
        }
    }
    // The attempts the killed process never reported are in the log as lost.
    let lost = column(
        &db,
        "SELECT delivery_id::text FROM delivery_attempts WHERE error LIKE 'lease expired%'",
    )
    .await;
    assert!(
        in_flight.is_subset(&lost),
        "every claim the killed process held is logged as lost"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_backlog_exits_cleanly_and_the_rest_is_delivered_after_restart() {
    let url = fresh_database().await;
    let db = connect(&url).await;
    let receiver = Receiver::start(|_| Reply::status(200).after(Duration::from_millis(50))).await;
    let mut first = Process::start(
        &url,
        &[
            ("HOOKRELAY_SHUTDOWN_GRACE", "5s"),
            ("HOOKRELAY_WORKERS", "16"),
        ],
    )
    .await;
    let webhook = register(&first.address, &receiver.url).await;
    insert_backlog(&db, &[&webhook], 1000).await;
    assert!(eventually(Duration::from_secs(30), || async { receiver.count() >= 50 }).await);

    let asked = Instant::now();
    first.signal("TERM");
    let status = first.wait_exit(Duration::from_secs(15)).await;
    let status =
        status.unwrap_or_else(|| panic!("still running 15 s after SIGTERM:\n{}", first.log_text()));
    assert!(
        status.success(),
        "exit status {status:?}:\n{}",
        first.log_text()
    );
    assert!(
        asked.elapsed() < Duration::from_secs(8),
        "took {:?} with a 5 s grace",
        asked.elapsed()
    );
    let log = first.log_text();
    let tail: Vec<&str> = log.lines().rev().take(15).collect();
    assert_eq!(
        count_where(&db, "status = 'processing'").await,
        0,
        "no row left processing; log ends:\n{}",
        tail.join("\n")
    );
    let left = count_where(&db, "status = 'pending'").await;
    assert!(left > 0, "the backlog was not finished before the signal");

    let _second = Process::start(&url, &[]).await;
    let drained = eventually(Duration::from_secs(60), || async {
        count_where(&db, "status = 'success'").await == 1000
    })
    .await;
    assert!(drained);
    assert_eq!(received_ids(&receiver).len(), 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_stopped_for_ten_seconds_loses_nothing_and_answers_503_meanwhile() {
    let own = OwnCluster::start();
    let admin = connect(&own.cluster.url("postgres")).await;
    admin.batch_execute("CREATE DATABASE outage").await.unwrap();
    let mut config = test_config(own.cluster.url("outage"));
    config.retry_schedule = crate::helpers::schedule(&[100, 200, 400, 800, 1600]);
    let app = spawn_app_on(config).await;
    let receiver = Receiver::start(|_| Reply::status(200).after(Duration::from_millis(20))).await;
    app.create_webhook(&receiver.url, &["*"]).await;
    let mut statuses = Vec::new();
    for i in 0..100 {
        let r = app
            .post("/events", &json!({"type": "before", "payload": i}))
            .await;
        statuses.push(r.status().as_u16());
    }

    own.cluster.kill().expect("stop the database");
    let outage = Instant::now();
    for i in 0..5 {
        let started = Instant::now();
        let r = app
            .post("/events", &json!({"type": "during", "payload": i}))
            .await;
        assert_eq!(r.status(), 503, "an event while the database is down");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "503 took {:?}",
            started.elapsed()
        );
        assert_eq!(
            r.headers().get("content-type").unwrap(),
            "application/problem+json"
        );
        assert_eq!(app.get("/readyz").await.status(), 503);
    }
    assert_eq!(
        app.get("/healthz").await.status(),
        200,
        "the process is still up"
    );
    tokio::time::sleep(Duration::from_secs(10).saturating_sub(outage.elapsed())).await;
    own.cluster.restart().expect("start the database again");

    let ready = eventually(Duration::from_secs(30), || async {
        app.get("/readyz").await.status() == 200
    })
    .await;
    assert!(ready, "readyz recovers");
    for i in 0..50 {
        let r = app
            .post("/events", &json!({"type": "after", "payload": i}))
            .await;
        statuses.push(r.status().as_u16());
    }
    assert!(
        statuses.iter().all(|s| *s == 201),
        "statuses outside the outage: {statuses:?}"
    );
    let db = connect(&own.cluster.url("outage")).await;
    let done = eventually(Duration::from_secs(60), || async {
        count_where(&db, "status = 'success'").await == 150
    })
    .await;
    if !done {
        // Say what is missing, to tell a lost delivery from a slow one.
        let rest: Vec<String> = db
            .query(
                "SELECT status, attempts, last_error FROM deliveries WHERE status <> 'success'",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| {
                format!(
                    "{} {} {:?}",
                    r.get::<_, String>(0),
                    r.get::<_, i32>(1),
                    r.get::<_, Option<String>>(2)
                )
            })
            .collect();
        let by_type: Vec<String> = db
            .query("SELECT e.type, count(*) FROM deliveries d JOIN events e ON e.id = d.event_id GROUP BY 1", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| format!("{} {}", r.get::<_, String>(0), r.get::<_, i64>(1)))
            .collect();
        panic!("not all delivered; the rest: {rest:#?}; by type {by_type:?}");
    }
    assert_eq!(received_ids(&receiver).len(), 150);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_webhook_with_a_backlog_does_not_slow_a_healthy_one() {
    let app = crate::helpers::spawn_app_with(|c| {
        c.workers = 64;
        c.max_in_flight_per_webhook = 8;
        c.delivery_timeout = Duration::from_secs(2);
    })
    .await;
    let sick = Receiver::start(|_| Reply::status(200).after(Duration::from_secs(30))).await;
    let healthy = Receiver::ok().await;
    let sick_id = app.create_webhook(&sick.url, &["sick"]).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.create_webhook(&healthy.url, &["healthy"]).await;
    insert_backlog(&app.db, &[&sick_id], 2000).await;
    sick.wait_for(1, Duration::from_secs(10)).await;

    let mut accepted = Vec::new();
    for seq in 0..100 {
        app.emit("healthy", json!({"seq": seq})).await;
        accepted.push(Instant::now());
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    healthy.wait_for(100, Duration::from_secs(20)).await;
    let mut latencies: Vec<Duration> = healthy
        .received()
        .iter()
        .map(|r| {
            let seq = r.json()["seq"].as_u64().unwrap() as usize;
            r.at.saturating_duration_since(accepted[seq])
        })
        .collect();
    latencies.sort();
    let p99 = latencies[98];
    let pending_sick = count_where(
        &app.db,
        &format!("webhook_id = '{sick_id}' AND status <> 'success'"),
    )
    .await;
    assert!(
        pending_sick > 1500,
        "the sick backlog lasted the whole run ({pending_sick} left)"
    );
    assert!(p99 < Duration::from_secs(1), "healthy p99 was {p99:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_database_deliver_each_delivery_exactly_once() {
    let url = fresh_database().await;
    let db = connect(&url).await;
    let receiver = Receiver::ok().await;
    let first = Process::start(&url, &[]).await;
    let second = Process::start(&url, &[]).await;
    let webhooks: Vec<String> =
        futures_util::future::join_all((0..10).map(|_| register(&first.address, &receiver.url)))
            .await;
    let ids: Vec<&str> = webhooks.iter().map(String::as_str).collect();
    insert_backlog(&db, &ids, 1000).await;

    let drained = eventually(Duration::from_secs(120), || async {
        count_where(&db, "status = 'success'").await == 10_000
    })
    .await;
    assert!(
        drained,
        "success: {}",
        count_where(&db, "status = 'success'").await
    );
    let seen = received_ids(&receiver);
    assert_eq!(seen.len(), 10_000);
    let repeated: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(repeated.is_empty(), "received more than once: {repeated:?}");
    let attempts: i64 = db
        .query_one("SELECT sum(attempts) FROM deliveries", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(attempts, 10_000);
    // Both took part.
    for p in [&first, &second] {
        assert!(
            p.log_text().matches("attempt").count() > 100,
            "a process that did little:\n{}",
            p.log_text()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_refusing_connections_does_not_burn_its_backlogs_budget() {
    let port = crate::helpers::closed_port();
    a_down_receiver_does_not_burn_its_backlogs_budget(&format!("http://127.0.0.1:{port}/hook"))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_answering_500_does_not_burn_its_backlogs_budget() {
    let receiver = Receiver::start(|_| Reply::status(500)).await;
    a_down_receiver_does_not_burn_its_backlogs_budget(&receiver.url).await;
}

/// A backlog of 300 for a receiver that is down: the breaker pauses it, so few
/// attempts are made, no delivery spends its budget, and the backlog is moved
/// out of the claims' way until the pause ends.
async fn a_down_receiver_does_not_burn_its_backlogs_budget(url: &str) {
    let app = crate::helpers::spawn_app_with(|c| c.workers = 32).await;
    let dead = app.create_webhook(url, &["a"]).await;
    insert_backlog(&app.db, &[dead["id"].as_str().unwrap()], 300).await;
    let attempts = || async {
        app.db
            .query_one("SELECT count(*) FROM delivery_attempts", &[])
            .await
            .unwrap()
            .get::<_, i64>(0)
    };
    assert!(eventually(Duration::from_secs(10), || async { attempts().await >= 5 }).await);
    // With the retry schedule of the tests (20 ms .. 320 ms), unchecked retries
    // would spend all 6 attempts of all 300 deliveries (1,800) within a second.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let made = attempts().await;
    assert!(
        made < 100,
        "{made} attempts against a receiver that is down"
    );
    assert_eq!(
        count_where(&app.db, "status = 'failed'").await,
        0,
        "no delivery spent its budget"
    );
    // Its backlog waits out the pause (5 s), and every delivery says why.
    // Unpaused, every retry would be due within the schedule's 320 ms.
    let paused: i64 = app
        .db
        .query_one(
            "SELECT count(*) FROM waiting_deliveries WHERE waiting_for = 'paused'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(paused >= 250, "only {paused} of 300 wait for the pause");
}
