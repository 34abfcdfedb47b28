//! Auto-disable and hookrelay's own events: a webhook whose attempts have all
//! failed for HOOKRELAY_AUTO_DISABLE_AFTER (and at least ten of them) is
//! disabled with its deliveries held; `hookrelay.webhook.disabled`,
//! `hookrelay.webhook.recovered` and `hookrelay.delivery.dead_lettered` reach
//! the webhooks that name them, through the ordinary queue, and never `"*"`.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{eventually, schedule, spawn_app_with, Receiver, Reply, TestApp};
use crate::plans::{indexes, Run};

/// The window the tests use: short, but several checks (a tenth of it) long.
const WINDOW: Duration = Duration::from_millis(1500);

/// Deliveries that stay pending for longer than the window while their
/// receiver fails: 30 retries 100 ms apart.
fn slow_budget() -> hookrelay::config::RetrySchedule {
    schedule(&[100; 30])
}

async fn webhook(app: &TestApp, id: &str) -> Value {
    app.get_json(&format!("/webhooks/{id}")).await
}

/// The events of `event_type` hookrelay stored.
async fn events_of_type(app: &TestApp, event_type: &str) -> i64 {
    app.db
        .query_one(
            "SELECT count(*) FROM events WHERE type = $1",
            &[&event_type],
        )
        .await
        .unwrap()
        .get(0)
}

/// Waits until `id`'s deliveries are all finished.
async fn all_finished(app: &TestApp, webhook_id: &str) -> bool {
    eventually(Duration::from_secs(20), || async {
        let row = app
            .db
            .query_one(
                "SELECT count(*) FROM deliveries
                 WHERE webhook_id = $1::text::uuid AND status IN ('pending', 'processing')",
                &[&webhook_id],
            )
            .await
            .unwrap();
        row.get::<_, i64>(0) == 0
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_failing_for_the_window_is_disabled_once_with_its_deliveries_held() {
    let app = spawn_app_with(|c| {
        c.auto_disable_after = WINDOW;
        c.retry_schedule = slow_budget();
    })
    .await;
    // 401 to everything (a receiver checking the wrong secret): answers, so the
    // breaker never pauses it, and the attempts keep coming.
    let failing = Receiver::start(|_| Reply::status(401)).await;
    let operator = Receiver::ok().await;
    let everything = Receiver::ok().await;
    let hook = app.create_webhook(&failing.url, &["order.created"]).await;
    let id = hook["id"].as_str().unwrap();
    app.create_webhook(&operator.url, &["hookrelay.webhook.disabled"])
        .await;
    let wildcard = app.create_webhook(&everything.url, &["*"]).await;
    for n in 0..3 {
        app.emit("order.created", json!({"n": n})).await;
    }

    // Seen in one snapshot: the moment it is disabled, its unfinished
    // deliveries are held (one transaction, as PATCH enabled=false).
    let disabled = eventually(Duration::from_secs(15), || async {
        let row = app
            .db
            .query_one(
                "SELECT w.enabled,
                        (SELECT count(*) FROM deliveries d
                         WHERE d.webhook_id = w.id AND d.status IN ('pending', 'processing') AND NOT d.held)
                 FROM webhooks w WHERE w.id = $1::text::uuid",
                &[&id],
            )
            .await
            .unwrap();
        let (enabled, unheld): (bool, i64) = (row.get(0), row.get(1));
        assert!(
            enabled || unheld == 0,
            "disabled with {unheld} deliveries not held"
        );
        !enabled
    })
    .await;
    assert!(disabled, "the failing webhook was not disabled");
    let w = webhook(&app, id).await;
    let reason = w["disabled_reason"].as_str().expect("a disabled_reason");
    assert!(
        reason.starts_with("auto-disabled: every attempt failed for 1s 500ms")
            && reason.contains("HTTP 401"),
        "{reason}"
    );
    // Disabled after the window, and after at least ten attempts.
    let row = app
        .db
        .query_one(
            "SELECT count(*), extract(epoch FROM w.updated_at - min(a.started_at))::float8
             FROM delivery_attempts a
             JOIN deliveries d ON d.id = a.delivery_id
             JOIN webhooks w ON w.id = d.webhook_id
             WHERE d.webhook_id = $1::text::uuid
             GROUP BY w.updated_at",
            &[&id],
        )
        .await
        .unwrap();
    let (attempts, failing_for): (i64, f64) = (row.get(0), row.get(1));
    assert!(attempts >= 10, "disabled after only {attempts} attempts");
    assert!(
        failing_for >= WINDOW.as_secs_f64(),
        "disabled {failing_for} s after the first failure"
    );
    // Its deliveries are held, like PATCH enabled=false holds them: not failed.
    let held = eventually(Duration::from_secs(10), || async {
        let row = app
            .db
            .query_one(
                "SELECT count(*) FILTER (WHERE status = 'pending' AND held), count(*)
                 FROM deliveries WHERE webhook_id = $1::text::uuid",
                &[&id],
            )
            .await
            .unwrap();
        row.get::<_, i64>(0) == 3 && row.get::<_, i64>(1) == 3
    })
    .await;
    assert!(held, "its three deliveries are not all held");

    // The operator hears of it, with the webhook's id, URL and the reason.
    let got = operator.wait_for(1, Duration::from_secs(10)).await;
    let notice = got[0].json();
    assert_eq!(notice["type"], "hookrelay.webhook.disabled");
    assert_eq!(
        got[0].header("x-webhook-event"),
        "hookrelay.webhook.disabled"
    );
    assert_eq!(notice["tenant"], "default");
    assert_eq!(notice["webhook_id"], id);
    assert_eq!(notice["url"], failing.url);
    assert_eq!(notice["reason"], reason);
    everything.wait_for(3, Duration::from_secs(10)).await;
    // "*" gets every client event and none of hookrelay's.
    assert!(all_finished(&app, wildcard["id"].as_str().unwrap()).await);
    assert_eq!(everything.count(), 3);
    assert!(everything
        .received()
        .iter()
        .all(|r| !r.header("x-webhook-event").starts_with("hookrelay.")));

    // A client enabling it again clears the reason and starts a new run: it
    // gets a whole window again before it is disabled a second time, and the
    // operator hears of each disable once.
    let r = app
        .patch(&format!("/webhooks/{id}"), &json!({"enabled": true}))
        .await;
    assert_eq!(r.status(), 200);
    let enabled_at = std::time::Instant::now();
    let w: Value = r.json().await.unwrap();
    assert_eq!(w["enabled"], true);
    assert_eq!(w["disabled_reason"], Value::Null);
    assert_eq!(webhook(&app, id).await["disabled_reason"], Value::Null);
    let again = eventually(Duration::from_secs(15), || async {
        webhook(&app, id).await["enabled"] == false
    })
    .await;
    assert!(again, "the webhook, failing still, was not disabled again");
    assert!(
        enabled_at.elapsed() >= WINDOW,
        "disabled again {:?} after a client enabled it",
        enabled_at.elapsed()
    );
    assert!(webhook(&app, id).await["disabled_reason"]
        .as_str()
        .is_some_and(|r| r.starts_with("auto-disabled")));
    operator.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(events_of_type(&app, "hookrelay.webhook.disabled").await, 2);
    assert_eq!(operator.count(), 2, "a notice went out twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_disable_has_no_reason_and_clears_hookrelays() {
    let app = spawn_app_with(|c| {
        c.auto_disable_after = WINDOW;
        c.retry_schedule = slow_budget();
    })
    .await;
    let receiver = Receiver::ok().await;
    let hook = app.create_webhook(&receiver.url, &["a"]).await;
    let id = hook["id"].as_str().unwrap();
    assert_eq!(hook["disabled_reason"], Value::Null);
    let r = app
        .patch(&format!("/webhooks/{id}"), &json!({"enabled": false}))
        .await;
    let w: Value = r.json().await.unwrap();
    assert_eq!(
        (w["enabled"].clone(), w["disabled_reason"].clone()),
        (json!(false), Value::Null)
    );
    let listed = app.get_json("/webhooks").await;
    assert_eq!(listed["data"][0]["disabled_reason"], Value::Null);
    assert!(listed["data"][0]
        .as_object()
        .unwrap()
        .contains_key("disabled_reason"));

    // A reason hookrelay gave is cleared by a client's disable too.
    app.db
        .execute(
            "UPDATE webhooks SET disabled_reason = 'auto-disabled: test' WHERE id = $1::text::uuid",
            &[&id],
        )
        .await
        .unwrap();
    assert_eq!(
        app.get_json("/webhooks").await["data"][0]["disabled_reason"],
        "auto-disabled: test"
    );
    let r = app
        .patch(&format!("/webhooks/{id}"), &json!({"enabled": false}))
        .await;
    let w: Value = r.json().await.unwrap();
    assert_eq!(w["disabled_reason"], Value::Null);
    // The OpenAPI document describes the field.
    let doc = app.get_json("/openapi.json").await;
    let field = &doc["components"]["schemas"]["Webhook"]["properties"]["disabled_reason"];
    assert!(
        field["description"]
            .as_str()
            .is_some_and(|d| d.contains("auto-disable")),
        "{field}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_that_recovers_within_the_window_stays_enabled() {
    let app = spawn_app_with(|c| {
        c.auto_disable_after = WINDOW;
        c.retry_schedule = slow_budget();
    })
    .await;
    // Twelve failures, then it is fixed; a twin that never is shows when the
    // window has passed for both.
    let flaky = Receiver::start(|n| Reply::status(if n < 12 { 401 } else { 200 })).await;
    let broken = Receiver::start(|_| Reply::status(401)).await;
    let flaky_hook = app.create_webhook(&flaky.url, &["a"]).await;
    let broken_hook = app.create_webhook(&broken.url, &["a"]).await;
    let operator = Receiver::ok().await;
    app.create_webhook(&operator.url, &["hookrelay.webhook.recovered"])
        .await;
    for n in 0..3 {
        app.emit("a", json!({"n": n})).await;
    }
    let broken_off = eventually(Duration::from_secs(15), || async {
        webhook(&app, broken_hook["id"].as_str().unwrap()).await["enabled"] == false
    })
    .await;
    assert!(broken_off, "the broken twin was not disabled");
    let flaky_id = flaky_hook["id"].as_str().unwrap();
    assert!(flaky.count() > 12, "the flaky receiver never answered 2xx");
    let w = webhook(&app, flaky_id).await;
    assert_eq!(
        w["enabled"], true,
        "a webhook that recovered was disabled: {w:#}"
    );
    assert_eq!(w["disabled_reason"], Value::Null);
    let run: Option<chrono::DateTime<chrono::Utc>> = app
        .db
        .query_one(
            "SELECT failing_since FROM webhooks WHERE id = $1::text::uuid",
            &[&flaky_id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(run, None, "its 2xx ended the run of failures");
    // Failures that never paused the receiver end without a recovered event.
    assert!(all_finished(&app, flaky_id).await);
    assert_eq!(events_of_type(&app, "hookrelay.webhook.recovered").await, 0);
    assert_eq!(operator.count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_2xx_after_a_pause_announces_the_recovery_once() {
    let app = spawn_app_with(|c| c.auto_disable_after = WINDOW * 100).await;
    // Five 500s in a row pause the receiver (5 s); the probe after the pause gets a 200.
    let down = Receiver::start(|n| Reply::status(if n < 5 { 500 } else { 200 })).await;
    let hook = app.create_webhook(&down.url, &["a"]).await;
    let id = hook["id"].as_str().unwrap();
    let operator = Receiver::ok().await;
    app.create_webhook(&operator.url, &["hookrelay.webhook.recovered"])
        .await;
    let everything = Receiver::ok().await;
    app.create_webhook(&everything.url, &["*"]).await;
    let event = app.emit("a", json!({"n": 1})).await;
    let delivery = app.deliveries_of(event["id"].as_str().unwrap()).await;
    let delivery = delivery.iter().find(|d| d["webhook_id"] == id).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.wait_for_status(&delivery, "success", Duration::from_secs(20))
        .await;

    let got = operator.wait_for(1, Duration::from_secs(10)).await;
    let notice = got[0].json();
    assert_eq!(notice["type"], "hookrelay.webhook.recovered");
    assert_eq!(notice["tenant"], "default");
    assert_eq!(notice["webhook_id"], id);
    assert_eq!(notice["url"], down.url);
    assert!(
        notice["reason"].as_str().unwrap().contains("2xx"),
        "{notice}"
    );
    assert!(notice["failing_since"].is_string(), "{notice}");
    assert_eq!(events_of_type(&app, "hookrelay.webhook.recovered").await, 1);
    // "*" got the client's event, not hookrelay's.
    everything.wait_for(1, Duration::from_secs(10)).await;
    let recovered_deliveries: i64 = app
        .db
        .query_one(
            "SELECT count(*) FROM deliveries d JOIN events e ON e.id = d.event_id
             WHERE e.type = 'hookrelay.webhook.recovered'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        recovered_deliveries, 1,
        "only the operator's webhook names it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_is_announced_to_webhooks_that_name_it_and_its_own_do_not_cascade() {
    let app = spawn_app_with(|_| {}).await;
    let gone = Receiver::start(|_| Reply::status(410)).await;
    let hook = app.create_webhook(&gone.url, &["order.created"]).await;
    let id = hook["id"].as_str().unwrap();
    // The operator's own receiver is gone too: the notice's delivery dead-letters
    // in turn, and must not announce itself.
    let operator = Receiver::start(|_| Reply::status(410)).await;
    let operator_hook = app
        .create_webhook(&operator.url, &["hookrelay.delivery.dead_lettered"])
        .await;
    let everything = Receiver::ok().await;
    app.create_webhook(&everything.url, &["*"]).await;
    let event = app.emit("order.created", json!({"n": 1})).await;
    let event_id = event["id"].as_str().unwrap();
    let delivery = app
        .deliveries_of(event_id)
        .await
        .into_iter()
        .find(|d| d["webhook_id"] == id)
        .unwrap();
    let delivery_id = delivery["id"].as_str().unwrap();
    app.wait_for_status(delivery_id, "failed", Duration::from_secs(10))
        .await;

    let got = operator.wait_for(1, Duration::from_secs(10)).await;
    let notice = got[0].json();
    assert_eq!(notice["type"], "hookrelay.delivery.dead_lettered");
    assert_eq!(notice["tenant"], "default");
    assert_eq!(notice["delivery_id"], delivery_id);
    assert_eq!(notice["event_id"], event_id);
    assert_eq!(notice["event_type"], "order.created");
    assert_eq!(notice["webhook_id"], id);
    assert_eq!(notice["url"], gone.url);
    assert_eq!(notice["last_status_code"], 410);
    assert!(
        notice["reason"].as_str().unwrap().contains("410"),
        "{notice}"
    );
    // The notice's own delivery failed (410) and emitted nothing more.
    let operator_id = operator_hook["id"].as_str().unwrap();
    assert!(all_finished(&app, operator_id).await);
    let failed: i64 = app
        .db
        .query_one(
            "SELECT count(*) FROM deliveries WHERE webhook_id = $1::text::uuid AND status = 'failed'",
            &[&operator_id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(failed, 1, "the notice's delivery failed");
    assert_eq!(
        events_of_type(&app, "hookrelay.delivery.dead_lettered").await,
        1,
        "a dead-lettered notice announced itself"
    );
    assert_eq!(operator.count(), 1);
    // "*" got the client's event only.
    everything.wait_for(1, Duration::from_secs(10)).await;
    assert!(everything
        .received()
        .iter()
        .all(|r| r.header("x-webhook-event") == "order.created"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fan_out_and_the_check_keep_their_indexes() {
    let app = spawn_app_with(|c| c.workers = 0).await;
    // Enough webhooks that reading them all costs more than an index; a few
    // in a long run of failures.
    app.db
        .batch_execute(
            "INSERT INTO webhooks (id, url, event_types, secret)
             SELECT gen_random_uuid(), 'http://example.com/', ARRAY['a', 'b' || g], 'whsec_x'
             FROM generate_series(1, 2000) g;
             UPDATE webhooks SET failing_since = now() - interval '1 day', failing_attempts = 10
             WHERE event_types @> ARRAY['b7'];
             ANALYZE webhooks;",
        )
        .await
        .unwrap();
    for run in [Run::Prepared, Run::Unnamed] {
        for event_type in ["'b5'", "'hookrelay.webhook.disabled'"] {
            let used = indexes(
                &app.db,
                run,
                hookrelay::sql::EVENT_INSERT,
                &format!(
                    "ARRAY[gen_random_uuid()], ARRAY[{event_type}], ARRAY['{{}}'], ARRAY['default']"
                ),
            )
            .await;
            assert!(
                used.iter().any(|u| u == "webhooks_fanout"),
                "the fan-out of {event_type} reads {used:?}"
            );
        }
        let used = indexes(
            &app.db,
            run,
            hookrelay::sql::WEBHOOK_AUTO_DISABLE_DUE,
            "3600000, 10",
        )
        .await;
        assert!(
            used.iter().any(|u| u == "webhooks_failing"),
            "the auto-disable check reads {used:?}"
        );
    }
}
