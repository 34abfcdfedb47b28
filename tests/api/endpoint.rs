//! Endpoint controls: custom headers a webhook sends with every attempt, and
//! test events sent to one webhook alone.

use std::time::Duration;

use serde_json::{json, Value};

use crate::console::Visitor;
use crate::helpers::{schedule, spawn_app, spawn_app_with, Received, Receiver, Reply, TestApp};

const WITHIN: Duration = Duration::from_secs(10);

async fn create_with_headers(app: &TestApp, url: &str, headers: Value) -> Value {
    let r = app
        .post(
            "/webhooks",
            &json!({"url": url, "event_types": ["order.created"], "headers": headers}),
        )
        .await;
    assert_eq!(r.status(), 201, "create webhook");
    r.json().await.expect("json")
}

async fn only_delivery_of(app: &TestApp, event: &Value) -> String {
    let deliveries = app.deliveries_of(event["id"].as_str().unwrap()).await;
    assert_eq!(deliveries.len(), 1, "{deliveries:?}");
    deliveries[0]["id"].as_str().unwrap().to_owned()
}

fn verify_signature(secret: &str, r: &Received) {
    standardwebhooks::Webhook::new(secret)
        .unwrap()
        .verify(&r.body, &r.headers)
        .expect("webhook-signature verifies");
}

async fn detail(r: reqwest::Response) -> String {
    let problem: Value = r.json().await.expect("problem+json");
    problem["detail"].as_str().unwrap_or_default().to_owned()
}

/// `headers` as every read shows them: each value masked.
fn masked(headers: &Value) -> Value {
    headers
        .as_object()
        .unwrap()
        .keys()
        .map(|k| (k.clone(), json!("••••")))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_headers_go_with_every_attempt_and_no_read_shows_their_values() {
    let app = spawn_app().await;
    let receiver = Receiver::start(|n| Reply::status(if n == 0 { 500 } else { 200 })).await;
    let headers = json!({"Authorization": "Bearer s3cr3t", "X-Tenant": "acme-routing-key"});
    let webhook = create_with_headers(&app, &receiver.url, headers.clone()).await;
    assert_eq!(
        webhook["headers"],
        masked(&headers),
        "the POST answer masks them"
    );
    let secret = webhook["secret"].as_str().unwrap().to_owned();
    let event = app.emit("order.created", json!({"n": 1})).await;
    let id = only_delivery_of(&app, &event).await;

    let d = app.wait_for_status(&id, "success", WITHIN).await;
    let got = receiver.received();
    assert_eq!(got.len(), 2, "one 500, then the retry");
    for r in &got {
        assert_eq!(r.header("authorization"), "Bearer s3cr3t");
        assert_eq!(r.header("x-tenant"), "acme-routing-key");
        // Unsigned: the signature still covers exactly what it did.
        verify_signature(&secret, r);
    }
    let log = d["attempt_log"].as_array().unwrap();
    assert_eq!(log.len(), 2);
    assert!(
        log.iter().all(|a| a["request_headers"] == masked(&headers)),
        "{d:#}"
    );

    // No read, list, attempt log or console page holds a value; the one
    // route for them does.
    let webhook_id = webhook["id"].as_str().unwrap();
    let read = app.get_json(&format!("/webhooks/{webhook_id}")).await;
    assert_eq!(read["headers"], masked(&headers));
    let list = app.get_json("/webhooks").await;
    assert_eq!(list["data"][0]["headers"], masked(&headers));
    let mut console = Visitor::new(&app);
    let mut shown = Vec::new();
    for path in [
        format!("/webhooks/{webhook_id}"),
        "/webhooks".to_owned(),
        format!("/deliveries/{id}"),
        "/deliveries".to_owned(),
        format!("/events/{}/deliveries", event["id"].as_str().unwrap()),
        format!("/console/webhooks/{webhook_id}"),
        "/console/webhooks".to_owned(),
        format!("/console/deliveries/{id}"),
    ] {
        let r = console.get(&path).await;
        assert_eq!(r.status(), 200, "{path}");
        shown.push((path, r.text().await.unwrap()));
    }
    assert!(
        shown[5].1.contains("Authorization"),
        "the console names them"
    );
    for (path, text) in &shown {
        for value in ["s3cr3t", "acme-routing-key"] {
            assert!(!text.contains(value), "{path} shows {value}: {text}");
        }
    }
    let stored: String = app
        .db
        .query_one(
            "SELECT request_headers::text FROM delivery_attempts LIMIT 1",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!stored.contains("s3cr3t"), "an attempt row keeps {stored}");
    assert_eq!(
        app.get_json(&format!("/webhooks/{webhook_id}/headers"))
            .await,
        json!({"headers": headers})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patch_giving_a_masked_value_keeps_the_stored_one() {
    let app = spawn_app_with(|c| c.workers = 0).await;
    let webhook = create_with_headers(
        &app,
        "http://127.0.0.1:9/",
        json!({"Authorization": "Bearer s3cr3t", "X-Old": "1"}),
    )
    .await;
    let location = format!("/webhooks/{}", webhook["id"].as_str().unwrap());
    // What a read showed, sent back with one header added and one removed.
    let r = app
        .patch(
            &location,
            &json!({"headers": {"Authorization": "••••", "X-New": "2"}}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        app.get_json(&format!("{location}/headers")).await["headers"],
        json!({"Authorization": "Bearer s3cr3t", "X-New": "2"})
    );
    // Masked, a header the webhook does not have has nothing to keep: 422,
    // and nothing changes. A new webhook cannot be given a masked value either.
    let r = app
        .patch(&location, &json!({"headers": {"X-Old": "••••"}}))
        .await;
    assert_eq!(r.status(), 422);
    let why = detail(r).await;
    assert!(why.starts_with("headers") && why.contains("X-Old"), "{why}");
    assert_eq!(
        app.get_json(&format!("{location}/headers")).await["headers"],
        json!({"Authorization": "Bearer s3cr3t", "X-New": "2"})
    );
    let r = app
        .post(
            "/webhooks",
            &json!({"url": "http://127.0.0.1:9/", "event_types": ["a"], "headers": {"X-A": "••••"}}),
        )
        .await;
    assert_eq!(r.status(), 422);
    assert!(detail(r).await.starts_with("headers"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_without_headers_logs_none() {
    let app = spawn_app().await;
    let receiver = Receiver::ok().await;
    let webhook = app.create_webhook(&receiver.url, &["order.created"]).await;
    assert_eq!(webhook["headers"], json!({}));
    let event = app.emit("order.created", json!({})).await;
    let id = only_delivery_of(&app, &event).await;
    let d = app.wait_for_status(&id, "success", WITHIN).await;
    assert!(d["attempt_log"][0]["request_headers"].is_null(), "{d:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patch_of_headers_applies_to_the_next_attempt() {
    // A retry far enough out that the PATCH surely returns before it starts.
    let app = spawn_app_with(|c| c.retry_schedule = schedule(&[1500, 1500])).await;
    let receiver = Receiver::start(|n| Reply::status(if n == 0 { 500 } else { 200 })).await;
    let before = json!({"X-Tenant": "acme", "X-Old": "1"});
    let after = json!({"X-Tenant": "globex"});
    let webhook = create_with_headers(&app, &receiver.url, before.clone()).await;
    let location = format!("/webhooks/{}", webhook["id"].as_str().unwrap());
    let event = app.emit("order.created", json!({"n": 1})).await;
    let id = only_delivery_of(&app, &event).await;
    let first = receiver.wait_for(1, WITHIN).await;
    assert_eq!(first[0].header("x-tenant"), "acme");

    let r = app.patch(&location, &json!({"headers": after})).await;
    assert_eq!(r.status(), 200);
    let patched: Value = r.json().await.unwrap();
    assert_eq!(patched["headers"], masked(&after));
    assert!(
        receiver.count() == 1,
        "the retry came before the PATCH returned; the test cannot tell"
    );

    let d = app.wait_for_status(&id, "success", WITHIN).await;
    let retry = &receiver.received()[1];
    assert_eq!(retry.header("x-tenant"), "globex");
    assert!(
        retry.headers.get("x-old").is_none(),
        "a removed header is gone"
    );
    let logged: Vec<&Value> = d["attempt_log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["request_headers"])
        .collect();
    assert_eq!(logged, [&masked(&before), &masked(&after)]);

    // Null clears them all.
    let r = app.patch(&location, &json!({"headers": null})).await;
    assert_eq!(r.status(), 200);
    let cleared: Value = r.json().await.unwrap();
    assert_eq!(cleared["headers"], json!({}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_hookrelay_or_the_connection_owns_are_refused_naming_them() {
    let app = spawn_app_with(|c| c.workers = 0).await;
    for name in [
        "content-type",
        "Host",
        "webhook-signature",
        "Transfer-Encoding",
    ] {
        let r = app
            .post(
                "/webhooks",
                &json!({"url": "http://127.0.0.1:9/", "event_types": ["a"], "headers": {name: "x"}}),
            )
            .await;
        assert_eq!(r.status(), 422, "{name}");
        let detail = detail(r).await;
        assert!(
            detail.starts_with("headers") && detail.contains(name),
            "{name}: {detail}"
        );
    }
    let many: serde_json::Map<String, Value> =
        (0..21).map(|i| (format!("X-H{i}"), json!("v"))).collect();
    let r = app
        .post(
            "/webhooks",
            &json!({"url": "http://127.0.0.1:9/", "event_types": ["a"], "headers": many}),
        )
        .await;
    assert_eq!(r.status(), 422);
    assert!(detail(r).await.starts_with("headers"));
    assert_eq!(app.count("webhooks").await, 0, "nothing was created");

    // PATCH takes the same rules, and a refused change changes nothing.
    let webhook = create_with_headers(&app, "http://127.0.0.1:9/", json!({"X-A": "1"})).await;
    let location = format!("/webhooks/{}", webhook["id"].as_str().unwrap());
    let r = app
        .patch(
            &location,
            &json!({"headers": {"X-A": "one\r\nX-Injected: yes"}}),
        )
        .await;
    assert_eq!(r.status(), 422);
    let detail = detail(r).await;
    assert!(
        detail.starts_with("headers") && detail.contains("X-A"),
        "{detail}"
    );
    let r = app
        .patch(&location, &json!({"headers": {"HOST": "evil.test"}}))
        .await;
    assert_eq!(r.status(), 422);
    assert_eq!(
        app.get_json(&format!("{location}/headers")).await["headers"],
        json!({"X-A": "1"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_event_reaches_its_webhook_alone_signed() {
    let app = spawn_app().await;
    let target = Receiver::ok().await;
    let bystander = Receiver::ok().await;
    let webhook = app.create_webhook(&target.url, &["order.created"]).await;
    app.create_webhook(&bystander.url, &["*"]).await;
    let webhook_id = webhook["id"].as_str().unwrap();

    // No body at all: the defaults.
    let r = app
        .http
        .post(format!("{}/webhooks/{webhook_id}/test", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let queued: Value = r.json().await.unwrap();
    let delivery_id = queued["delivery_id"].as_str().unwrap();

    let d = app.wait_for_status(delivery_id, "success", WITHIN).await;
    assert_eq!(d["webhook_id"], webhook["id"]);
    let got = target.received();
    assert_eq!(got.len(), 1);
    let r = &got[0];
    verify_signature(webhook["secret"].as_str().unwrap(), r);
    assert_eq!(r.header("x-webhook-event"), "hookrelay.test");
    assert_eq!(r.header("webhook-id"), delivery_id);
    assert_eq!(r.json(), json!({"test": true, "webhook_id": webhook_id}));
    // The event exists with this one delivery only: the wildcard webhook has
    // nothing queued, so it can never receive it.
    let event_id = d["event_id"].as_str().unwrap();
    let deliveries = app.deliveries_of(event_id).await;
    assert_eq!(deliveries.len(), 1, "{deliveries:?}");
    assert_eq!(bystander.count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_event_takes_a_type_and_payload() {
    let app = spawn_app().await;
    let receiver = Receiver::ok().await;
    let webhook = app.create_webhook(&receiver.url, &["order.created"]).await;
    let test = format!("/webhooks/{}/test", webhook["id"].as_str().unwrap());

    let r = app
        .post(
            &test,
            &json!({"type": "order.created", "payload": {"order_id": 7, "total": "1.50"}}),
        )
        .await;
    assert_eq!(r.status(), 202);
    let got = receiver.wait_for(1, WITHIN).await;
    verify_signature(webhook["secret"].as_str().unwrap(), &got[0]);
    assert_eq!(got[0].header("x-webhook-event"), "order.created");
    assert_eq!(got[0].json(), json!({"order_id": 7, "total": "1.50"}));

    // hookrelay.test may be named; hookrelay's other types may not.
    let r = app.post(&test, &json!({"type": "hookrelay.test"})).await;
    assert_eq!(r.status(), 202);
    for bad in ["hookrelay.webhook.disabled", "not a type"] {
        let r = app.post(&test, &json!({"type": bad})).await;
        assert_eq!(r.status(), 422, "{bad}");
        assert!(detail(r).await.starts_with("type"), "{bad}");
    }
    let events = app.count("events").await;
    assert_eq!(events, 2, "refused tests wrote nothing");

    let missing = format!("/webhooks/{}/test", uuid::Uuid::now_v7());
    assert_eq!(app.post(&missing, &json!({})).await.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typed_test_event_goes_through_the_catalog_as_an_emitted_one_does() {
    let app = spawn_app_with(|c| c.require_event_types = true).await;
    let schema = json!({
        "type": "object",
        "required": ["order_id"],
        "properties": {"order_id": {"type": "integer"}, "total": {"type": "string"}}
    });
    let r = app
        .put("/event-types/order.created", &json!({"schema": schema}))
        .await;
    assert_eq!(r.status(), 201);
    let receiver = Receiver::ok().await;
    let webhook = app.create_webhook(&receiver.url, &["order.created"]).await;
    let test = format!("/webhooks/{}/test", webhook["id"].as_str().unwrap());

    // A payload its schema refuses, given or the default one: 422 naming where.
    let r = app
        .post(
            &test,
            &json!({"type": "order.created", "payload": {"order_id": 7, "total": 1.5}}),
        )
        .await;
    assert_eq!(r.status(), 422);
    let why = detail(r).await;
    assert!(why.starts_with("payload at /total"), "{why}");
    let r = app.post(&test, &json!({"type": "order.created"})).await;
    assert_eq!(r.status(), 422);
    assert!(detail(r).await.starts_with("payload"));
    // A type the catalog does not hold, with HOOKRELAY_REQUIRE_EVENT_TYPES on.
    let r = app
        .post(&test, &json!({"type": "order.shipped", "payload": {}}))
        .await;
    assert_eq!(r.status(), 422);
    assert!(detail(r).await.starts_with("type"));
    assert_eq!(app.count("events").await, 0, "refused tests wrote nothing");

    // What the schema takes goes; hookrelay.test is no catalog type.
    let r = app
        .post(
            &test,
            &json!({"type": "order.created", "payload": {"order_id": 7}}),
        )
        .await;
    assert_eq!(r.status(), 202);
    assert_eq!(app.post(&test, &json!({})).await.status(), 202);
    receiver.wait_for(2, WITHIN).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_webhook_refuses_a_test_event() {
    let app = spawn_app_with(|c| c.workers = 0).await;
    let webhook = app.create_webhook("http://127.0.0.1:9/", &["a"]).await;
    let id = webhook["id"].as_str().unwrap();
    let r = app
        .patch(&format!("/webhooks/{id}"), &json!({"enabled": false}))
        .await;
    assert_eq!(r.status(), 200);
    let r = app.post(&format!("/webhooks/{id}/test"), &json!({})).await;
    assert_eq!(r.status(), 409);
    assert_eq!(app.count("events").await, 0);
    assert_eq!(app.count("deliveries").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_cannot_emit_hookrelays_own_event_types() {
    let app = spawn_app_with(|c| c.workers = 0).await;
    for reserved in ["hookrelay.webhook.disabled", "hookrelay.test"] {
        let r = app
            .post("/events", &json!({"type": reserved, "payload": {}}))
            .await;
        assert_eq!(r.status(), 422, "{reserved}");
        let detail = detail(r).await;
        assert!(detail.starts_with("type"), "{reserved}: {detail}");
    }
    assert_eq!(app.count("events").await, 0);
    // A type that merely begins alike is the client's own.
    let r = app
        .post(
            "/events",
            &json!({"type": "hookrelayish.thing", "payload": {}}),
        )
        .await;
    assert_eq!(r.status(), 201);
}
