//! Reading deliveries, sending dead letters again, and idempotent ingest.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{schedule, spawn_app_with, Receiver, Reply};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_delivery_is_retried_on_request_with_a_fresh_budget() {
    let app = spawn_app_with(|c| c.retry_schedule = schedule(&[10])).await;
    let receiver = Receiver::start(|n| {
        if n < 2 {
            Reply::status(500)
        } else {
            Reply::status(200)
        }
    })
    .await;
    let webhook = app.create_webhook(&receiver.url, &["a"]).await;
    let event = app.emit("a", json!({"x": 1})).await;
    let id = app.deliveries_of(event["id"].as_str().unwrap()).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let d = app
        .wait_for_status(&id, "failed", Duration::from_secs(10))
        .await;
    assert_eq!(d["attempts"], 2);

    // Listed as a dead letter.
    let failed = app
        .get_json(&format!(
            "/deliveries?status=failed&webhook_id={}",
            webhook["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(failed["data"].as_array().unwrap().len(), 1);

    let r = app
        .post(&format!("/deliveries/{id}/retry"), &json!({}))
        .await;
    assert_eq!(r.status(), 202);
    let d = app
        .wait_for_status(&id, "success", Duration::from_secs(10))
        .await;
    assert_eq!(d["attempts"], 3, "attempts keeps counting across budgets");
    assert_eq!(d["attempt_log"].as_array().unwrap().len(), 3);

    // A finished delivery can be sent again; one on its way cannot.
    let r = app
        .post(&format!("/deliveries/{id}/retry"), &json!({}))
        .await;
    assert_eq!(r.status(), 202);
    app.wait_for_status(&id, "success", Duration::from_secs(10))
        .await;
    app.db
        .execute("UPDATE deliveries SET status = 'pending', completed_at = NULL, held = true WHERE id = $1::text::uuid", &[&id])
        .await
        .unwrap();
    let r = app
        .post(&format!("/deliveries/{id}/retry"), &json!({}))
        .await;
    assert_eq!(r.status(), 409);
    assert_eq!(
        r.headers().get("content-type").unwrap(),
        "application/problem+json"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhooks_failed_deliveries_are_requeued_together() {
    let app = spawn_app_with(|c| c.retry_schedule = schedule(&[])).await;
    let receiver = Receiver::start(|n| {
        if n < 3 {
            Reply::status(500)
        } else {
            Reply::status(200)
        }
    })
    .await;
    let webhook = app.create_webhook(&receiver.url, &["a"]).await;
    let wid = webhook["id"].as_str().unwrap();
    let mut ids = Vec::new();
    for i in 0..3 {
        let e = app.emit("a", json!(i)).await;
        ids.push(
            app.deliveries_of(e["id"].as_str().unwrap()).await[0]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    for id in &ids {
        app.wait_for_status(id, "failed", Duration::from_secs(10))
            .await;
    }
    let future = "2999-01-01T00:00:00Z";
    let none = app
        .post(
            &format!("/webhooks/{wid}/retry-failed?since={future}"),
            &json!({}),
        )
        .await;
    assert_eq!(none.status(), 202);
    assert_eq!(
        none.json::<serde_json::Value>().await.unwrap()["requeued"],
        0
    );

    let r = app
        .post(&format!("/webhooks/{wid}/retry-failed"), &json!({}))
        .await;
    assert_eq!(r.status(), 202);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["requeued"], 3);
    for id in &ids {
        app.wait_for_status(id, "success", Duration::from_secs(10))
            .await;
    }
    let missing = app
        .post(
            &format!("/webhooks/{}/retry-failed", uuid::Uuid::new_v4()),
            &json!({}),
        )
        .await;
    assert_eq!(missing.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_repeats_of_an_idempotency_key_make_one_event() {
    let app = spawn_app_with(|c| c.workers = 0).await;
    app.create_webhook("https://example.com/a", &["a"]).await;
    app.create_webhook("https://example.com/b", &["*"]).await;
    let requests = (0..20).map(|_| {
        app.http
            .post(format!("{}/events", app.address))
            .header("Idempotency-Key", "order-42")
            .json(&json!({"type": "a", "payload": {"n": 42}}))
            .send()
    });
    let answers = futures_util::future::join_all(requests).await;
    let mut ids = std::collections::HashSet::new();
    let mut created = 0;
    for a in answers {
        let a = a.unwrap();
        match a.status().as_u16() {
            201 => created += 1,
            200 => {}
            other => panic!("unexpected status {other}"),
        }
        let body: serde_json::Value = a.json().await.unwrap();
        assert_eq!(body["deliveries"], 2);
        ids.insert(body["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(created, 1);
    assert_eq!(ids.len(), 1, "every answer names the same event");
    assert_eq!(app.count("events").await, 1);
    assert_eq!(app.count("deliveries").await, 2);
}

/// `GET /deliveries?event_type=`: only that type's deliveries, newest first,
/// page after page, whether the type is rare (fewer than 1,000 events: read
/// through its events) or common (1,000 or more: read down the list).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_are_listed_by_event_type_whether_rare_or_common() {
    let app = spawn_app_with(|c| c.workers = 0).await;
    let webhook = app
        .create_webhook("http://127.0.0.1:9/", &["backlog", "rare"])
        .await;
    let id = webhook["id"].as_str().unwrap().to_owned();
    crate::helpers::insert_backlog(&app.db, &[id.as_str()], 1000).await;
    for n in 0..3 {
        app.emit("rare", json!({ "n": n })).await;
    }
    crate::helpers::insert_backlog(&app.db, &[id.as_str()], 5).await;

    for (event_type, limit, total) in [("rare", 2, 3), ("backlog", 400, 1005)] {
        let mut expected: Vec<String> = app
            .db
            .query_one(
                "SELECT array_agg(d.id::text) FROM deliveries d
                 JOIN events e ON e.id = d.event_id WHERE e.type = $1",
                &[&event_type],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(expected.len(), total);
        let mut seen: Vec<(String, String)> = Vec::new();
        let mut path = format!("/deliveries?event_type={event_type}&limit={limit}");
        loop {
            let page = app.get_json(&path).await;
            for d in page["data"].as_array().unwrap() {
                seen.push((
                    d["created_at"].as_str().unwrap().to_owned(),
                    d["id"].as_str().unwrap().to_owned(),
                ));
            }
            match page["next_cursor"].as_str() {
                Some(cursor) => {
                    path =
                        format!("/deliveries?event_type={event_type}&limit={limit}&cursor={cursor}")
                }
                None => break,
            }
        }
        let mut sorted = seen.clone();
        sorted.sort_by(|a, b| b.cmp(a));
        sorted.dedup();
        assert_eq!(seen, sorted, "{event_type}: newest first, none twice");
        let mut ids: Vec<String> = seen.into_iter().map(|(_, id)| id).collect();
        ids.sort();
        expected.sort();
        assert_eq!(ids, expected, "{event_type}: its deliveries, every one");
    }
}
