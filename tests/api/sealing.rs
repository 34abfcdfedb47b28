//! Credentials at rest: with HOOKRELAY_ENCRYPTION_KEY set, a dump of the
//! database holds no signing secret and no custom header value, deliveries
//! still verify, and a change of keys keeps every webhook delivering.

use std::time::Duration;

use hookrelay::store::sealing::Keys;
use serde_json::{json, Value};

use crate::helpers::*;

const HEADER_VALUE: &str = "Bearer sealed-credential-7f3a";

fn key() -> (String, Keys) {
    let text = Keys::generate();
    let keys = Keys::parse(Some(&text), None).unwrap();
    (text, keys)
}

/// A webhook with a custom header, to `receiver`; returns its id.
async fn webhook_with_header(app: &TestApp, receiver: &Receiver, event_type: &str) -> String {
    let r = app
        .post(
            "/webhooks",
            &json!({"url": receiver.url, "event_types": [event_type],
                    "headers": {"Authorization": HEADER_VALUE}}),
        )
        .await;
    assert_eq!(r.status(), 201);
    r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The webhook's current secret, as the API reveals it.
async fn secret_of(app: &TestApp, id: &str) -> String {
    app.get_json(&format!("/webhooks/{id}/secret")).await["secret"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Emits `event_type` and checks the one delivery `receiver` gets next: it
/// verifies under `secret` with the Standard Webhooks library and carries the
/// custom header's value in clear.
async fn delivers_verified(app: &TestApp, receiver: &Receiver, event_type: &str, secret: &str) {
    let before = receiver.count();
    app.emit(event_type, json!({"n": before})).await;
    let got = receiver.wait_for(before + 1, Duration::from_secs(15)).await;
    let r = &got[before];
    standardwebhooks::Webhook::new(secret)
        .unwrap()
        .verify(&r.body, &r.headers)
        .expect("the delivery verifies under the webhook's secret");
    assert_eq!(r.header("authorization"), HEADER_VALUE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_key_a_dump_holds_no_secret_and_no_header_value() {
    let (_, keys) = key();
    let app = spawn_app_with(|c| c.keys = keys).await;
    let receiver = Receiver::ok().await;
    let id = webhook_with_header(&app, &receiver, "a").await;
    let first = secret_of(&app, &id).await;
    // A rotation keeps the first secret as the previous one: both are stored.
    let r = app
        .post(&format!("/webhooks/{id}/rotate-secret"), &json!({}))
        .await;
    assert_eq!(r.status(), 200);
    let second = secret_of(&app, &id).await;
    assert_ne!(first, second);

    delivers_verified(&app, &receiver, "a", &second).await;
    delivers_verified(&app, &receiver, "a", &first).await;
    assert_eq!(
        app.get_json(&format!("/webhooks/{id}/headers")).await,
        json!({"headers": {"Authorization": HEADER_VALUE}})
    );

    let dump = dump_rows(&app.database_url);
    assert!(
        dump.contains("hookrelay-sealed:v1:"),
        "the values are there, sealed"
    );
    for plain in ["whsec_", HEADER_VALUE, "sealed-credential"] {
        assert!(!dump.contains(plain), "the dump holds {plain:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_of_keys_reseals_everything_and_every_webhook_keeps_delivering() {
    let database_url = fresh_database().await;
    let receivers = [
        Receiver::ok().await,
        Receiver::ok().await,
        Receiver::ok().await,
    ];

    // One webhook from before any key (stored in clear), two under key A.
    let app = spawn_app_on(test_config(database_url.clone())).await;
    let mut ids = vec![webhook_with_header(&app, &receivers[0], "t0").await];
    app.shutdown().await;
    let (a_text, a) = key();
    let mut config = test_config(database_url.clone());
    config.keys = a.clone();
    let app = spawn_app_on(config).await;
    ids.push(webhook_with_header(&app, &receivers[1], "t1").await);
    ids.push(webhook_with_header(&app, &receivers[2], "t2").await);
    let r = app
        .post(&format!("/webhooks/{}/rotate-secret", ids[2]), &json!({}))
        .await;
    assert_eq!(r.status(), 200);
    let mut secrets = Vec::new();
    for id in &ids {
        secrets.push(secret_of(&app, id).await);
    }
    for (i, r) in receivers.iter().enumerate() {
        delivers_verified(&app, r, &format!("t{i}"), &secrets[i]).await;
    }
    let plain_sealed = eventually(Duration::from_secs(15), || async {
        !dump_rows(&database_url).contains("whsec_")
    })
    .await;
    assert!(
        plain_sealed,
        "the webhook stored in clear before the key is sealed"
    );
    app.shutdown().await;

    // Key B, with A still read: everything is re-sealed with B in the background.
    let b_text = Keys::generate();
    let b = Keys::parse(Some(&b_text), Some(&a_text)).unwrap();
    let b_id = b.sealing_with().unwrap().to_owned();
    let mut config = test_config(database_url.clone());
    config.keys = b;
    let app = spawn_app_on(config).await;
    let sealed_with_b = format!("hookrelay-sealed:v1:{b_id}:");
    let a_id = a.sealing_with().unwrap().to_owned();
    let resealed = eventually(Duration::from_secs(15), || async {
        let dump = dump_rows(&database_url);
        !dump.contains("whsec_")
            && !dump.contains(HEADER_VALUE)
            && !dump.contains(&format!("hookrelay-sealed:v1:{a_id}:"))
            && dump.matches(&sealed_with_b).count() >= 3 + 1 + 3
    })
    .await;
    assert!(
        resealed,
        "every secret and header value re-sealed with the new key"
    );
    for (i, r) in receivers.iter().enumerate() {
        delivers_verified(&app, r, &format!("t{i}"), &secrets[i]).await;
    }
    app.shutdown().await;

    // The old key gone: nothing needs it any more.
    let mut config = test_config(database_url.clone());
    config.keys = Keys::parse(Some(&b_text), None).unwrap();
    let app = spawn_app_on(config).await;
    for (i, r) in receivers.iter().enumerate() {
        delivers_verified(&app, r, &format!("t{i}"), &secrets[i]).await;
        assert_eq!(
            app.get_json(&format!("/webhooks/{}/headers", ids[i])).await,
            json!({"headers": {"Authorization": HEADER_VALUE}})
        );
    }
}
