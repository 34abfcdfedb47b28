//! Registering, reading, changing and deleting webhooks; secrets stay out of reads.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{eventually, schedule, spawn_app, spawn_app_with, Receiver, Reply};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_is_created_read_listed_changed_and_deleted() {
    let app = spawn_app().await;
    let r = app
        .post("/webhooks", &json!({"url": "https://example.com/a", "event_types": ["a.b"], "description": "first"}))
        .await;
    assert_eq!(r.status(), 201);
    let location = r
        .headers()
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let created: serde_json::Value = r.json().await.unwrap();
    let id = created["id"].as_str().unwrap();
    assert_eq!(location, format!("/webhooks/{id}"));
    let secret = created["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"));
    assert_eq!(created["enabled"], true);

    let read = app.get_json(&location).await;
    assert_eq!(read["url"], "https://example.com/a");
    assert!(read.get("secret").is_none(), "reads never show the secret");
    assert_eq!(
        app.get_json(&format!("{location}/secret")).await["secret"],
        secret
    );

    let patched = app
        .patch(
            &location,
            &json!({"description": null, "event_types": ["*"]}),
        )
        .await;
    assert_eq!(patched.status(), 200);
    let patched: serde_json::Value = patched.json().await.unwrap();
    assert_eq!(patched["description"], serde_json::Value::Null);
    assert_eq!(patched["event_types"], json!(["*"]));
    assert_eq!(patched["url"], "https://example.com/a");

    let rotated = app
        .post(&format!("{location}/rotate-secret"), &json!({}))
        .await;
    assert_eq!(rotated.status(), 200);
    let new_secret = rotated.json::<serde_json::Value>().await.unwrap()["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new_secret, secret);

    let list = app.get_json("/webhooks").await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert!(list["data"][0].get("secret").is_none());
    assert!(!list.to_string().contains(&new_secret));

    assert_eq!(app.delete(&location).await.status(), 204);
    assert_eq!(app.get(&location).await.status(), 404);
    assert_eq!(app.delete(&location).await.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_given_secret_is_kept() {
    let app = spawn_app().await;
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let r = app
        .post(
            "/webhooks",
            &json!({"url": "https://example.com", "event_types": ["a"], "secret": secret}),
        )
        .await;
    assert_eq!(r.status(), 201);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["secret"],
        secret
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_page_newest_first_with_a_cursor() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let w = app
            .create_webhook(&format!("https://example.com/{i}"), &["a"])
            .await;
        ids.push(w["id"].as_str().unwrap().to_owned());
    }
    ids.reverse();
    let first = app.get_json("/webhooks?limit=2").await;
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = app
        .get_json(&format!("/webhooks?limit=2&cursor={cursor}"))
        .await;
    let cursor = second["next_cursor"].as_str().unwrap();
    let third = app
        .get_json(&format!("/webhooks?limit=2&cursor={cursor}"))
        .await;
    assert!(third["next_cursor"].is_null());
    let seen: Vec<String> = [first, second, third]
        .iter()
        .flat_map(|p| {
            p["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|w| w["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(seen, ids);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_webhook_holds_its_pending_deliveries_and_sends_them_when_enabled() {
    let app = spawn_app_with(|c| c.retry_schedule = schedule(&[1500])).await;
    let first = Receiver::start(|_| Reply::status(500)).await;
    let second = Receiver::ok().await;
    let webhook = app.create_webhook(&first.url, &["a"]).await;
    let location = format!("/webhooks/{}", webhook["id"].as_str().unwrap());
    let event = app.emit("a", json!(1)).await;
    let id = app.deliveries_of(event["id"].as_str().unwrap()).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    first.wait_for(1, Duration::from_secs(10)).await;
    assert!(
        eventually(Duration::from_secs(5), || async {
            app.delivery(&id).await["status"] == "pending"
        })
        .await,
        "the failed first attempt leaves the delivery pending"
    );

    // Disabled (and moved to a new URL) while its retry waits.
    let r = app
        .patch(&location, &json!({"enabled": false, "url": second.url}))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        app.emit("a", json!(2)).await["deliveries"],
        0,
        "no new deliveries while disabled"
    );
    // Wait until the retry is well past due: still pending, nothing sent.
    let overdue = eventually(Duration::from_secs(10), || async {
        let row = app
            .db
            .query_one("SELECT next_retry_at < now() - interval '300 ms' FROM deliveries WHERE id = $1::text::uuid", &[&id])
            .await
            .unwrap();
        row.get::<_, bool>(0)
    })
    .await;
    assert!(overdue);
    let held = app.delivery(&id).await;
    assert_eq!(held["status"], "pending", "held, not failed: {held:#}");
    assert_eq!(second.count(), 0, "nothing is sent while disabled");
    assert_eq!(first.count(), 1);

    assert_eq!(
        app.patch(&location, &json!({"enabled": true}))
            .await
            .status(),
        200
    );
    let d = app
        .wait_for_status(&id, "success", Duration::from_secs(10))
        .await;
    assert_eq!(d["attempts"], 2);
    assert_eq!(second.count(), 1, "the next attempt went to the new URL");
    assert_eq!(first.count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_sent_to_a_webhook_after_its_delete_returns() {
    let app = spawn_app_with(|c| c.retry_schedule = schedule(&[10, 10, 10, 10, 10])).await;
    let receiver = Receiver::start(|_| Reply::status(500).after(Duration::from_millis(300))).await;
    let webhook = app.create_webhook(&receiver.url, &["a"]).await;
    for i in 0..5 {
        app.emit("a", json!(i)).await;
    }
    receiver.wait_for(1, Duration::from_secs(10)).await;
    let r = app
        .delete(&format!("/webhooks/{}", webhook["id"].as_str().unwrap()))
        .await;
    assert_eq!(r.status(), 204);
    let sent_before = receiver.count();
    assert_eq!(
        app.get(&format!("/webhooks/{}", webhook["id"].as_str().unwrap()))
            .await
            .status(),
        404
    );
    // Its rows go in the background, right after.
    assert!(
        eventually(Duration::from_secs(10), || async {
            app.count("deliveries").await == 0 && app.count("webhooks").await == 0
        })
        .await,
        "its deliveries went with it"
    );
    // Long enough for several retries at 10 ms had anything survived.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.count(), sent_before);
}
