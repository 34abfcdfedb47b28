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
