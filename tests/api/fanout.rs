//! One event, every matching enabled webhook, one delivery each.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{spawn_app, Receiver};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_fans_out_to_matching_enabled_webhooks_only() {
    let app = spawn_app().await;
    let exact = Receiver::ok().await;
    let listed = Receiver::ok().await;
    let wildcard = Receiver::ok().await;
    let other = Receiver::ok().await;
    let disabled = Receiver::ok().await;
    app.create_webhook(&exact.url, &["order.created"]).await;
    app.create_webhook(&listed.url, &["order.paid", "order.created"])
        .await;
    app.create_webhook(&wildcard.url, &["*"]).await;
    app.create_webhook(&other.url, &["order.paid"]).await;
    let off = app
        .post(
            "/webhooks",
            &json!({"url": disabled.url, "event_types": ["order.created"], "enabled": false}),
        )
        .await;
    assert_eq!(off.status(), 201);

    let event = app.emit("order.created", json!({"id": 7})).await;
    assert_eq!(event["deliveries"], 3);
    let deliveries = app.deliveries_of(event["id"].as_str().unwrap()).await;
    assert_eq!(deliveries.len(), 3);
    assert_eq!(app.count("deliveries").await, 3);

    for r in [&exact, &listed, &wildcard] {
        r.wait_for(1, Duration::from_secs(10)).await;
    }
    for d in &deliveries {
        app.wait_for_status(
            d["id"].as_str().unwrap(),
            "success",
            Duration::from_secs(10),
        )
        .await;
    }
    assert_eq!(other.count(), 0);
    assert_eq!(disabled.count(), 0);
    assert_eq!(exact.count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_nobody_wants_is_stored_with_no_deliveries() {
    let app = spawn_app().await;
    let event = app.emit("nobody.cares", json!(null)).await;
    assert_eq!(event["deliveries"], 0);
    let stored = app
        .get_json(&format!("/events/{}", event["id"].as_str().unwrap()))
        .await;
    assert_eq!(stored["payload"], json!(null));
    assert_eq!(stored["type"], "nobody.cares");
    assert_eq!(app.count("deliveries").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_ids_are_time_ordered_uuid_v7() {
    let app = spawn_app().await;
    let receiver = Receiver::ok().await;
    app.create_webhook(&receiver.url, &["order.created"]).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let event = app.emit("order.created", json!({"n": n})).await;
        let deliveries = app.deliveries_of(event["id"].as_str().unwrap()).await;
        let id: uuid::Uuid = deliveries[0]["id"].as_str().unwrap().parse().unwrap();
        assert_eq!(id.get_version_num(), 7, "{id}");
        ids.push(id);
    }
    // A v7 id begins with its Unix milliseconds: later deliveries never sort before earlier ones.
    let millis: Vec<u64> = ids
        .iter()
        .map(|id| {
            u64::from_be_bytes([
                0,
                0,
                id.as_bytes()[0],
                id.as_bytes()[1],
                id.as_bytes()[2],
                id.as_bytes()[3],
                id.as_bytes()[4],
                id.as_bytes()[5],
            ])
        })
        .collect();
    assert!(millis.windows(2).all(|w| w[0] <= w[1]), "{ids:?}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(
        now.abs_diff(millis[2]) < 60_000,
        "the time in the id is now: {ids:?}"
    );
}
