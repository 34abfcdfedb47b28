//! A webhook's state binds every queued delivery: a change applies to every
//! attempt that starts after the request that made it returned, however many
//! deliveries are already claimed, in this process or another sharing the
//! database, and under concurrent events, toggles and retries.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{
    eventually, fresh_database, schedule, spawn_app_on, spawn_app_with, test_config, Receiver,
    Reply, TestApp,
};

/// How long after a change an attempt that had already started may still
/// reach the old receiver: the time between an attempt reading its webhook and
/// its request arriving, on loopback. Before this was fixed, attempts claimed
/// ahead kept arriving for as long as the backlog lasted (seconds here).
const UNDER_WAY: Duration = Duration::from_millis(150);

const BACKLOG: usize = 60;

/// A slow receiver with a backlog that claims run far ahead of.
async fn backlog(app: &TestApp, receiver: &Receiver) -> Value {
    let webhook = app.create_webhook(&receiver.url, &["a"]).await;
    // All at once, so the backlog is there however slow the machine is.
    let events: Vec<Value> = (0..BACKLOG)
        .map(|i| json!({"type": "a", "payload": i}))
        .collect();
    for r in futures_util::future::join_all(events.iter().map(|e| app.post("/events", e))).await {
        assert_eq!(r.status(), 201);
    }
    receiver.wait_for(5, Duration::from_secs(10)).await;
    webhook
}

fn slow() -> Reply {
    Reply::status(200).after(Duration::from_millis(500))
}

/// Requests that arrived at `receiver` later than `after` (plus the grace
/// for attempts already under way).
fn arrivals_after(receiver: &Receiver, after: Instant) -> usize {
    receiver
        .received()
        .iter()
        .filter(|r| r.at > after + UNDER_WAY)
        .count()
}

async fn delivered(app: &TestApp, n: i64) -> bool {
    eventually(Duration::from_secs(20), || async {
        let row = app
            .db
            .query_one(
                "SELECT count(*) FROM deliveries WHERE status = 'success'",
                &[],
            )
            .await
            .unwrap();
        row.get::<_, i64>(0) == n
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_url_binds_attempts_already_claimed() {
    let app = spawn_app_with(|c| c.workers = 8).await;
    let old = Receiver::start(|_| slow()).await;
    let new = Receiver::ok().await;
    let webhook = backlog(&app, &old).await;
    let claimed: i64 = app
        .db
        .query_one(
            "SELECT count(*) FROM deliveries WHERE status = 'processing'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(claimed > 8, "claims run ahead of the sends: {claimed}");

    let r = app
        .patch(
            &format!("/webhooks/{}", webhook["id"].as_str().unwrap()),
            &json!({"url": new.url}),
        )
        .await;
    let returned = Instant::now();
    assert_eq!(r.status(), 200);
    assert!(
        delivered(&app, BACKLOG as i64).await,
        "the backlog is delivered"
    );
    assert_eq!(
        arrivals_after(&old, returned),
        0,
        "attempts that started after the PATCH returned went to the old URL"
    );
    assert_eq!(old.count() + new.count(), BACKLOG, "each delivered once");
    assert!(new.count() > 0, "the new URL got the rest");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disable_binds_attempts_already_claimed() {
    let app = spawn_app_with(|c| c.workers = 8).await;
    let receiver = Receiver::start(|_| slow()).await;
    let webhook = backlog(&app, &receiver).await;
    let location = format!("/webhooks/{}", webhook["id"].as_str().unwrap());

    let r = app.patch(&location, &json!({"enabled": false})).await;
    let returned = Instant::now();
    assert_eq!(r.status(), 200);
    // Every claim taken ahead comes back held, and nothing is sent meanwhile.
    let all_held = eventually(Duration::from_secs(10), || async {
        let row = app
            .db
            .query_one(
                "SELECT count(*) FILTER (WHERE status = 'pending' AND held),
                        count(*) FILTER (WHERE status = 'success')
                 FROM deliveries",
                &[],
            )
            .await
            .unwrap();
        row.get::<_, i64>(0) + row.get::<_, i64>(1) == BACKLOG as i64
    })
    .await;
    assert!(all_held, "claims taken ahead were handed back held");
    assert_eq!(
        arrivals_after(&receiver, returned),
        0,
        "sent after the disable returned"
    );
    let sent = receiver.count();
    assert!(
        sent < BACKLOG,
        "the disable came before the backlog was sent"
    );

    assert_eq!(
        app.patch(&location, &json!({"enabled": true}))
            .await
            .status(),
        200
    );
    assert!(
        delivered(&app, BACKLOG as i64).await,
        "enabled again, the rest is sent"
    );
    assert_eq!(receiver.count(), BACKLOG);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_secret_binds_attempts_already_claimed() {
    let app = spawn_app_with(|c| c.workers = 8).await;
    let receiver = Receiver::start(|_| slow()).await;
    let webhook = backlog(&app, &receiver).await;
    let id = webhook["id"].as_str().unwrap();
    let old_secret = webhook["secret"].as_str().unwrap().to_owned();

    let r = app
        .post(&format!("/webhooks/{id}/rotate-secret"), &json!({}))
        .await;
    let returned = Instant::now();
    assert_eq!(r.status(), 200);
    let new_secret = r.json::<Value>().await.unwrap()["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(delivered(&app, BACKLOG as i64).await);
    let late: Vec<_> = receiver
        .received()
        .into_iter()
        .filter(|r| r.at > returned + UNDER_WAY)
        .collect();
    assert!(!late.is_empty(), "some attempts started after the rotation");
    for r in late {
        // X-Webhook-Signature is made with the current secret only.
        assert_eq!(
            r.header("X-Webhook-Signature"),
            hex_signature(&new_secret, &r.body),
            "an attempt after the rotation was signed with the old secret"
        );
        assert_ne!(
            r.header("X-Webhook-Signature"),
            hex_signature(&old_secret, &r.body)
        );
    }
}

fn hex_signature(secret: &str, body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_made_through_another_process_binds_this_ones_claims() {
    let database_url = fresh_database().await;
    let mut config = test_config(database_url.clone());
    config.workers = 8;
    let worker = spawn_app_on(config.clone()).await;
    config.workers = 0;
    let api_only = spawn_app_on(config).await;
    let old = Receiver::start(|_| slow()).await;
    let new = Receiver::ok().await;
    let webhook = backlog(&api_only, &old).await;

    let r = api_only
        .patch(
            &format!("/webhooks/{}", webhook["id"].as_str().unwrap()),
            &json!({"url": new.url}),
        )
        .await;
    let returned = Instant::now();
    assert_eq!(r.status(), 200);
    assert!(delivered(&worker, BACKLOG as i64).await);
    assert_eq!(
        arrivals_after(&old, returned),
        0,
        "the other process kept sending to the old URL"
    );
    assert!(new.count() > 0, "the new URL got the rest");
}

/// Four clients emitting events of type `a` until `stop` is set (or `count`
/// each); each answers the statuses it got.
fn emitters(
    app: &TestApp,
    count: Option<usize>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Vec<tokio::task::JoinHandle<Vec<u16>>> {
    (0..4)
        .map(|_| {
            let (http, address, stop) = (app.http.clone(), app.address.clone(), stop.clone());
            tokio::spawn(async move {
                let mut statuses = Vec::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed)
                    && count.is_none_or(|n| statuses.len() < n)
                {
                    let r = http
                        .post(format!("{address}/events"))
                        .json(&json!({"type": "a", "payload": {}}))
                        .send()
                        .await
                        .unwrap();
                    statuses.push(r.status().as_u16());
                }
                statuses
            })
        })
        .collect()
}

/// Unfinished deliveries of the webhook that a claim could take.
async fn unheld(app: &TestApp, webhook_id: &str) -> i64 {
    app.db
        .query_one(
            "SELECT count(*) FROM deliveries
             WHERE webhook_id = $1::text::uuid AND status IN ('pending', 'processing') AND NOT held",
            &[&webhook_id],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn events_racing_a_disable_are_held_or_were_sent_before_it_returned() {
    let app = spawn_app_with(|c| c.workers = 8).await;
    let receiver = Receiver::ok().await;
    let webhook = app.create_webhook(&receiver.url, &["a"]).await;
    let id = webhook["id"].as_str().unwrap().to_owned();
    let location = format!("/webhooks/{id}");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let emitters = emitters(&app, None, stop.clone());
    for round in 0..15 {
        let r = app.patch(&location, &json!({"enabled": false})).await;
        let returned = Instant::now();
        assert_eq!(r.status(), 200, "disable, round {round}");
        assert_eq!(
            unheld(&app, &id).await,
            0,
            "round {round}: a delivery of the disabled webhook is not held"
        );
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert_eq!(
            arrivals_after(&receiver, returned),
            0,
            "round {round}: sent while disabled"
        );
        let r = app.patch(&location, &json!({"enabled": true})).await;
        assert_eq!(r.status(), 200, "enable, round {round}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut emitted = 0;
    for e in emitters {
        let statuses = e.await.unwrap();
        assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
        emitted += statuses.len();
    }
    assert!(emitted > 30, "events raced the toggles: {emitted}");
    // Every event accepted while enabled was delivered; none is stuck.
    let settled = eventually(Duration::from_secs(20), || async {
        let row = app
            .db
            .query_one(
                "SELECT count(*) FILTER (WHERE status <> 'success'), count(*) FROM deliveries",
                &[],
            )
            .await
            .unwrap();
        row.get::<_, i64>(0) == 0 && row.get::<_, i64>(1) == receiver.count() as i64
    })
    .await;
    assert!(settled, "every delivery was sent once, none left held");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_enable_racing_retries_leaves_nothing_held() {
    // 410 fails a delivery at once; retries bring it back to pending.
    let app = spawn_app_with(|c| {
        c.workers = 8;
        c.retry_schedule = schedule(&[]);
    })
    .await;
    let receiver = Receiver::start(|_| Reply::status(410)).await;
    let webhook = app.create_webhook(&receiver.url, &["a"]).await;
    let id = webhook["id"].as_str().unwrap().to_owned();
    let location = format!("/webhooks/{id}");
    let mut deliveries = Vec::new();
    for _ in 0..20 {
        let event = app.emit("a", json!({})).await;
        let d = app.deliveries_of(event["id"].as_str().unwrap()).await;
        deliveries.push(d[0]["id"].as_str().unwrap().to_owned());
    }
    for (round, delivery) in deliveries.iter().enumerate().take(12) {
        // Everything failed, the webhook disabled: then enable and retry at once.
        let all_failed = eventually(Duration::from_secs(10), || async {
            let row = app
                .db
                .query_one(
                    "SELECT count(*) FROM deliveries WHERE status <> 'failed'",
                    &[],
                )
                .await
                .unwrap();
            row.get::<_, i64>(0) == 0
        })
        .await;
        assert!(all_failed, "round {round}");
        assert_eq!(
            app.patch(&location, &json!({"enabled": false}))
                .await
                .status(),
            200
        );
        let (on, empty) = (json!({"enabled": true}), json!({}));
        let (all_path, one_path) = (
            format!("/webhooks/{id}/retry-failed"),
            format!("/deliveries/{delivery}/retry"),
        );
        let (e, all, one) = tokio::join!(
            app.patch(&location, &on),
            app.post(&all_path, &empty),
            app.post(&one_path, &empty)
        );
        assert_eq!(e.status(), 200, "round {round}");
        assert_eq!(all.status(), 202, "round {round}");
        assert!(
            [202, 409].contains(&one.status().as_u16()),
            "round {round}: {}",
            one.status()
        );
        let held: i64 = app
            .db
            .query_one(
                "SELECT count(*) FROM deliveries WHERE status = 'pending' AND held",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(held, 0, "round {round}: held under an enabled webhook");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn events_racing_a_delete_are_accepted_and_nothing_is_sent_after_it() {
    let app = spawn_app_with(|c| c.workers = 8).await;
    let receiver = Receiver::ok().await;
    for round in 0..8 {
        let webhook = app.create_webhook(&receiver.url, &["a"]).await;
        let location = format!("/webhooks/{}", webhook["id"].as_str().unwrap());
        let emitters = emitters(
            &app,
            Some(15),
            std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)),
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
        let r = app.delete(&location).await;
        let returned = Instant::now();
        assert_eq!(r.status(), 204, "round {round}");
        for e in emitters {
            let statuses = e.await.unwrap();
            assert!(
                statuses.iter().all(|s| *s == 201),
                "round {round}: {statuses:?}"
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(
            arrivals_after(&receiver, returned),
            0,
            "round {round}: sent after DELETE returned"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn toggles_during_a_drain_never_deadlock_with_completions() {
    let app = spawn_app_with(|c| c.workers = 16).await;
    let receiver = Receiver::ok().await;
    let webhook = app.create_webhook(&receiver.url, &["a"]).await;
    let location = format!("/webhooks/{}", webhook["id"].as_str().unwrap());
    let events: Vec<Value> = (0..200)
        .map(|i| json!({"type": "a", "payload": i}))
        .collect();
    let backlog = 1500;
    // A backlog, so that completion batches and holds meet on many rows.
    assert_eq!(
        app.patch(&location, &json!({"enabled": false}))
            .await
            .status(),
        200
    );
    for chunk in 0..backlog / events.len() {
        let emits = events
            .iter()
            .map(|e| app.post("/events", e))
            .collect::<Vec<_>>();
        for r in futures_util::future::join_all(emits).await {
            assert_eq!(r.status(), 201, "chunk {chunk}");
        }
    }
    let total: i64 = app.count("deliveries").await;
    for round in 0..40 {
        for enabled in [true, false] {
            let r = app.patch(&location, &json!({"enabled": enabled})).await;
            assert_eq!(r.status(), 200, "round {round}: {:?}", r.text().await);
        }
    }
    assert_eq!(
        app.patch(&location, &json!({"enabled": true}))
            .await
            .status(),
        200
    );
    assert!(
        delivered(&app, total).await,
        "the backlog drains once enabled"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patch_that_loses_a_deadlock_is_tried_again_not_a_500() {
    let app = spawn_app_with(|c| c.workers = 0).await;
    let webhook = app.create_webhook("http://127.0.0.1:9/", &["a"]).await;
    let id = webhook["id"].as_str().unwrap().to_owned();
    for i in 0..3 {
        app.emit("a", json!(i)).await;
    }
    // A transaction of our own holds the newest delivery, then asks for the
    // webhook row, which the PATCH holds while it waits for that delivery:
    // a deadlock, and Postgres aborts the PATCH's transaction (it waited first).
    let (mut other, connection) = tokio_postgres::connect(&app.database_url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let tx = other.transaction().await.unwrap();
    tx.execute(
        "SELECT 1 FROM deliveries WHERE webhook_id = $1::text::uuid ORDER BY id DESC LIMIT 1 FOR UPDATE",
        &[&id],
    )
    .await
    .unwrap();
    let location = format!("/webhooks/{id}");
    let body = json!({"enabled": false});
    let patch = app.patch(&location, &body);
    let other_side = async {
        // Once the PATCH waits on our row, take the webhook's.
        let waiting = eventually(Duration::from_secs(5), || async {
            let row = app
                .db
                .query_one(
                    "SELECT count(*) FROM pg_locks WHERE NOT granted AND locktype = 'transactionid'",
                    &[],
                )
                .await
                .unwrap();
            row.get::<_, i64>(0) > 0
        })
        .await;
        assert!(waiting, "the PATCH waits for our row");
        let locked = tx
            .execute(
                "SELECT 1 FROM webhooks WHERE id = $1::text::uuid FOR UPDATE",
                &[&id],
            )
            .await;
        // We won: let the PATCH's second try through.
        tx.rollback().await.unwrap();
        locked
    };
    let (r, locked) = tokio::join!(patch, other_side);
    assert!(locked.is_ok(), "Postgres chose the PATCH as the victim");
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    let held: i64 = app
        .db
        .query_one("SELECT count(*) FROM deliveries WHERE held", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(held, 3, "the second try held every delivery");
}
