//! What operators use: /metrics, the psql views, dead letters by time, retention.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{schedule, spawn_app_with, Receiver, Reply};

/// The value of one sample line of the Prometheus text, e.g. `hookrelay_attempts_total{outcome="success"}`.
fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_exactly_what_a_run_did() {
    let app = spawn_app_with(|c| c.retry_schedule = schedule(&[])).await;
    let ok = Receiver::ok().await;
    let failing = Receiver::start(|_| Reply::status(503)).await;
    let teapot = Receiver::start(|_| Reply::status(418)).await;
    app.create_webhook(&ok.url, &["ok"]).await;
    app.create_webhook(&failing.url, &["bad"]).await;
    app.create_webhook(&teapot.url, &["teapot"]).await;
    let mut ids = Vec::new();
    for (t, n) in [("ok", 3), ("bad", 1), ("teapot", 2)] {
        for i in 0..n {
            let e = app.emit(t, json!(i)).await;
            ids.push(
                app.deliveries_of(e["id"].as_str().unwrap()).await[0]["id"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        }
    }
    for id in &ids[..3] {
        app.wait_for_status(id, "success", Duration::from_secs(10))
            .await;
    }
    for id in &ids[3..] {
        app.wait_for_status(id, "failed", Duration::from_secs(10))
            .await;
    }
    let r = app.get("/metrics").await;
    assert_eq!(r.status(), 200);
    assert!(r
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = r.text().await.unwrap();
    assert_eq!(
        sample(&text, r#"hookrelay_attempts_total{outcome="success"}"#),
        3.0,
        "{text}"
    );
    assert_eq!(
        sample(&text, r#"hookrelay_attempts_total{outcome="http_5xx"}"#),
        1.0
    );
    assert_eq!(
        sample(&text, r#"hookrelay_attempts_total{outcome="http_4xx"}"#),
        2.0
    );
    assert_eq!(
        sample(&text, "hookrelay_delivery_latency_seconds_count"),
        3.0
    );
    assert_eq!(
        sample(&text, "hookrelay_attempt_duration_seconds_count"),
        6.0
    );
    assert_eq!(
        sample(&text, r#"hookrelay_deliveries{status="failed"}"#),
        3.0
    );
    assert_eq!(
        sample(&text, r#"hookrelay_deliveries{status="pending"}"#),
        0.0
    );
    assert_eq!(sample(&text, "hookrelay_queue_due"), 0.0);
    assert_eq!(sample(&text, "hookrelay_workers"), 16.0);
    assert_eq!(sample(&text, "hookrelay_workers_busy"), 0.0);
    assert!(
        text.contains(r#"hookrelay_db_pool_connections{state="max"} 8"#),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_views_answer_the_operators_questions() {
    let app = spawn_app_with(|c| c.workers = 0).await;
    let a = app
        .create_webhook("https://a.example.com/hook", &["*"])
        .await;
    let b = app
        .create_webhook("https://b.example.com/hook", &["*"])
        .await;
    let (a, b) = (
        a["id"].as_str().unwrap().to_owned(),
        b["id"].as_str().unwrap().to_owned(),
    );
    app.db
        .batch_execute(&format!(
            "INSERT INTO events (id, type, payload) VALUES ('00000000-0000-0000-0000-0000000000e1', 'order.paid', '{{}}');
             INSERT INTO deliveries (id, webhook_id, event_id, status, held, attempts, next_retry_at, lease_expires_at, last_status_code, last_error, completed_at) VALUES
               ('00000000-0000-0000-0000-000000000001', '{a}', '00000000-0000-0000-0000-0000000000e1', 'pending', false, 0, now() - interval '30 seconds', NULL, NULL, NULL, NULL),
               ('00000000-0000-0000-0000-000000000002', '{a}', '00000000-0000-0000-0000-0000000000e1', 'pending', false, 1, now() + interval '1 hour', NULL, 500, NULL, NULL),
               ('00000000-0000-0000-0000-000000000003', '{b}', '00000000-0000-0000-0000-0000000000e1', 'pending', true, 0, now(), NULL, NULL, NULL, NULL),
               ('00000000-0000-0000-0000-000000000004', '{b}', '00000000-0000-0000-0000-0000000000e1', 'processing', false, 1, now(), now() - interval '5 seconds', NULL, NULL, NULL),
               ('00000000-0000-0000-0000-000000000005', '{b}', '00000000-0000-0000-0000-0000000000e1', 'processing', false, 1, now(), now() + interval '1 minute', NULL, NULL, NULL),
               ('00000000-0000-0000-0000-000000000006', '{b}', '00000000-0000-0000-0000-0000000000e1', 'failed', false, 6, now(), NULL, 503, 'retry budget spent after 6 attempts', now() - interval '1 minute'),
               ('00000000-0000-0000-0000-000000000007', '{a}', '00000000-0000-0000-0000-0000000000e1', 'success', false, 2, now(), NULL, 200, NULL, now());
             INSERT INTO delivery_attempts (delivery_id, attempt, started_at, duration_ms, status_code, error) VALUES
               ('00000000-0000-0000-0000-000000000007', 1, now() - interval '10 minutes', 100, 500, NULL),
               ('00000000-0000-0000-0000-000000000007', 2, now() - interval '9 minutes', 20, 200, NULL),
               ('00000000-0000-0000-0000-000000000002', 1, now() - interval '5 minutes', 30, 500, NULL),
               ('00000000-0000-0000-0000-000000000006', 1, now() - interval '2 hours', 10, 503, NULL),
               ('00000000-0000-0000-0000-000000000006', 2, now() - interval '3 minutes', 10, 503, NULL);"
        ))
        .await
        .unwrap();

    let q = app.db.query_one("SELECT due_now, scheduled_later, held, processing, failed, oldest_due_age_seconds::float8 FROM queue_overview", &[]).await.unwrap();
    assert_eq!(
        (
            q.get::<_, i64>(0),
            q.get::<_, i64>(1),
            q.get::<_, i64>(2),
            q.get::<_, i64>(3),
            q.get::<_, i64>(4)
        ),
        (1, 1, 1, 2, 1)
    );
    let age: f64 = q.get(5);
    assert!((29.0..120.0).contains(&age), "oldest due age {age}");

    let stuck = app
        .db
        .query("SELECT id::text, url FROM stuck_deliveries", &[])
        .await
        .unwrap();
    assert_eq!(stuck.len(), 1);
    assert_eq!(
        stuck[0].get::<_, String>(0),
        "00000000-0000-0000-0000-000000000004"
    );
    assert_eq!(stuck[0].get::<_, String>(1), "https://b.example.com/hook");

    let failures = app
        .db
        .query(
            "SELECT id::text, url, event_type, last_status_code, last_error FROM recent_failures",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(failures.len(), 1);
    assert_eq!(
        failures[0].get::<_, String>(0),
        "00000000-0000-0000-0000-000000000006"
    );
    assert_eq!(failures[0].get::<_, String>(2), "order.paid");
    assert_eq!(failures[0].get::<_, Option<i32>>(3), Some(503));
    assert_eq!(
        failures[0].get::<_, Option<String>>(4).as_deref(),
        Some("retry budget spent after 6 attempts")
    );

    let health = app
        .db
        .query(
            "SELECT webhook_id::text, attempts_last_hour, success_rate_last_hour::float8, p50_ms_last_hour, consecutive_failures, held_deliveries FROM webhook_health",
            &[],
        )
        .await
        .unwrap();
    let row = |id: &str| health.iter().find(|r| r.get::<_, String>(0) == id).unwrap();
    // a: attempts 500 (10 min ago), 200 (9 min), 500 (5 min): one failure since its last success.
    let ra = row(&a);
    assert_eq!(ra.get::<_, i64>(1), 3);
    assert!((ra.get::<_, f64>(2) - 0.333).abs() < 0.001);
    assert_eq!(ra.get::<_, Option<i32>>(3), Some(30));
    assert_eq!(ra.get::<_, i64>(4), 1);
    assert_eq!(ra.get::<_, i64>(5), 0);
    // b: one attempt this hour (the other is older), never a success, one held delivery.
    let rb = row(&b);
    assert_eq!(rb.get::<_, i64>(1), 1);
    assert_eq!(rb.get::<_, f64>(2), 0.0);
    assert_eq!(rb.get::<_, i64>(4), 2);
    assert_eq!(rb.get::<_, i64>(5), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_listed_by_webhook_and_time_range() {
    let app = spawn_app_with(|c| c.workers = 0).await;
    let w = app.create_webhook("https://example.com/hook", &["a"]).await;
    let wid = w["id"].as_str().unwrap();
    for _ in 0..3 {
        app.emit("a", json!({})).await;
    }
    app.db
        .batch_execute(
            "UPDATE deliveries SET status = 'failed', completed_at = now();
             UPDATE deliveries SET created_at = '2026-01-01T00:00:00Z'
             WHERE id = (SELECT id FROM deliveries ORDER BY id LIMIT 1);",
        )
        .await
        .unwrap();
    let all = app
        .get_json(&format!("/deliveries?status=failed&webhook_id={wid}"))
        .await;
    assert_eq!(all["data"].as_array().unwrap().len(), 3);
    let january = app
        .get_json(&format!("/deliveries?status=failed&webhook_id={wid}&created_after=2026-01-01T00:00:00Z&created_before=2026-02-01T00:00:00Z"))
        .await;
    assert_eq!(january["data"].as_array().unwrap().len(), 1);
    let since = app
        .get_json(&format!(
            "/deliveries?status=failed&webhook_id={wid}&created_after=2026-02-01T00:00:00Z"
        ))
        .await;
    assert_eq!(since["data"].as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_deletes_old_finished_rows_and_nothing_else() {
    let app = spawn_app_with(|c| c.workers = 0).await;
    let w = app.create_webhook("https://example.com/hook", &["a"]).await;
    let wid = w["id"].as_str().unwrap();
    app.db
        .batch_execute(&format!(
            "INSERT INTO events (id, type, payload, created_at) VALUES
               ('00000000-0000-0000-0000-0000000000e1', 'a', '1', now() - interval '40 days'),
               ('00000000-0000-0000-0000-0000000000e2', 'a', '2', now() - interval '40 days'),
               ('00000000-0000-0000-0000-0000000000e3', 'a', '3', now() - interval '40 days'),
               ('00000000-0000-0000-0000-0000000000e4', 'a', '4', now() - interval '1 day');
             INSERT INTO deliveries (id, webhook_id, event_id, status, attempts, lease_expires_at, completed_at, created_at) VALUES
               ('00000000-0000-0000-0000-000000000001', '{wid}', '00000000-0000-0000-0000-0000000000e1', 'success', 1, NULL, now() - interval '39 days', now() - interval '40 days'),
               ('00000000-0000-0000-0000-000000000002', '{wid}', '00000000-0000-0000-0000-0000000000e1', 'failed', 6, NULL, now() - interval '39 days', now() - interval '40 days'),
               ('00000000-0000-0000-0000-000000000003', '{wid}', '00000000-0000-0000-0000-0000000000e2', 'pending', 2, NULL, NULL, now() - interval '40 days'),
               ('00000000-0000-0000-0000-000000000004', '{wid}', '00000000-0000-0000-0000-0000000000e2', 'processing', 3, now() + interval '1 minute', NULL, now() - interval '40 days'),
               ('00000000-0000-0000-0000-000000000005', '{wid}', '00000000-0000-0000-0000-0000000000e4', 'success', 1, NULL, now() - interval '1 day', now() - interval '1 day');
             INSERT INTO delivery_attempts (delivery_id, attempt, started_at, status_code) VALUES
               ('00000000-0000-0000-0000-000000000001', 1, now() - interval '39 days', 200),
               ('00000000-0000-0000-0000-000000000005', 1, now() - interval '1 day', 200);
             INSERT INTO idempotency_keys (key, event_id, created_at) VALUES
               ('old', '00000000-0000-0000-0000-0000000000e4', now() - interval '2 days'),
               ('fresh', '00000000-0000-0000-0000-0000000000e4', now());"
        ))
        .await
        .unwrap();
    let pool =
        hookrelay::store::pool(&app.database_url, 1, hookrelay::store::Session::Api(None)).unwrap();
    let swept = hookrelay::retention::sweep_once(
        &pool.get().await.unwrap(),
        Duration::from_secs(30 * 86_400),
    )
    .await
    .unwrap();
    assert_eq!(
        (swept.deliveries, swept.events, swept.idempotency_keys),
        (2, 2, 1)
    );
    let ids = |table: &'static str, column: &'static str| {
        let db = &app.db;
        async move {
            let mut v: Vec<String> = db
                .query(&format!("SELECT {column}::text FROM {table}"), &[])
                .await
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect();
            v.sort();
            v
        }
    };
    assert_eq!(
        ids("deliveries", "id").await,
        [
            "00000000-0000-0000-0000-000000000003",
            "00000000-0000-0000-0000-000000000004",
            "00000000-0000-0000-0000-000000000005"
        ]
    );
    // e1 lost its deliveries and goes; e2 keeps its pending ones; e3 never had any; e4 is recent.
    assert_eq!(
        ids("events", "id").await,
        [
            "00000000-0000-0000-0000-0000000000e2",
            "00000000-0000-0000-0000-0000000000e4"
        ]
    );
    assert_eq!(
        ids("delivery_attempts", "delivery_id").await,
        ["00000000-0000-0000-0000-000000000005"]
    );
    assert_eq!(ids("idempotency_keys", "key").await, ["fresh"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_logs_written_to_a_file_carry_no_colour_codes() {
    let url = crate::helpers::fresh_database().await;
    let process = crate::helpers::Process::start(&url, &[("HOOKRELAY_LOG_FORMAT", "text")]).await;
    // A request, so a request line is logged too.
    let r = reqwest::get(format!("{}/webhooks", process.address))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let logged = crate::helpers::eventually(std::time::Duration::from_secs(10), || async {
        process.log_text().contains("/webhooks")
    })
    .await;
    let log = process.log_text();
    assert!(logged, "the request was not logged:\n{log}");
    assert!(log.contains("hookrelay is serving"), "{log}");
    assert!(
        !log.contains("\x1b["),
        "colour codes in the log file:\n{log:?}"
    );
}
