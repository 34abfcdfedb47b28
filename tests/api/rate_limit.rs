//! Per-webhook rate limits hold across every process sharing the database;
//! deliveries over the limit wait in the queue, uncounted, and the limit of
//! one webhook costs the others nothing.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{eventually, fresh_database, spawn_app_on, test_config, Receiver};

const RATE: usize = 20;
const EVENTS: usize = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_together_keep_a_webhooks_rate_limit() {
    let database_url = fresh_database().await;
    let mut config = test_config(database_url);
    // The events come in through a process that sends nothing, so both
    // backlogs are there when the two sending processes start.
    config.workers = 0;
    let first = spawn_app_on(config.clone()).await;
    config.workers = 16;
    let limited = Receiver::ok().await;
    let free = Receiver::ok().await;
    let r = first
        .post(
            "/webhooks",
            &json!({"url": limited.url, "event_types": ["a"], "rate_limit": RATE}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let limited_id = r.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        first.get_json(&format!("/webhooks/{limited_id}")).await["rate_limit"],
        RATE
    );
    first.create_webhook(&free.url, &["a"]).await;
    for i in 0..EVENTS {
        first.emit("a", json!({"n": i})).await;
    }
    let _senders = (
        spawn_app_on(config.clone()).await,
        spawn_app_on(config).await,
    );
    let all_sent = eventually(Duration::from_secs(60), || async {
        limited.count() >= EVENTS && free.count() >= EVENTS
    })
    .await;
    assert!(
        all_sent,
        "limited {}, free {}",
        limited.count(),
        free.count()
    );

    let at: Vec<Instant> = limited.received().iter().map(|r| r.at).collect();
    let took = at[EVENTS - 1] - at[0];
    let expected = Duration::from_secs_f64((EVENTS - 1) as f64 / RATE as f64);
    assert!(
        took >= expected.mul_f64(0.95),
        "{EVENTS} attempts at {RATE}/s took {took:?}, under 95% of {expected:?}"
    );
    // No second holds much more than the limit: an attempt starts at most one
    // slot late (else it takes another slot), and the receiver's clock adds the
    // scheduling jitter of a busy machine; 10% covers both.
    for (i, start) in at.iter().enumerate() {
        let within = at[i..]
            .iter()
            .take_while(|t| **t < *start + Duration::from_secs(1))
            .count();
        assert!(
            within <= RATE + RATE / 10 + 1,
            "{within} attempts within one second"
        );
    }
    // Waiting for the limit spent no attempt and failed nothing.
    let row = first
        .db
        .query_one(
            "SELECT count(*) FILTER (WHERE attempts <> 1 OR status <> 'success'), count(*)
             FROM deliveries WHERE webhook_id = $1::text::uuid",
            &[&limited_id],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 0, "attempts spent on waiting");
    assert_eq!(row.get::<_, i64>(1), EVENTS as i64);
    // The unlimited webhook did not wait for the limited one.
    let free_done = free.received().iter().map(|r| r.at).max().unwrap();
    assert!(
        free_done < at[EVENTS / 2],
        "the unlimited webhook finished after half of the limited one's deliveries"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_is_validated_changed_and_cleared() {
    let app = crate::helpers::spawn_app_with(|c| c.workers = 0).await;
    for bad in [json!(0), json!(-1), json!(1.5), json!("10"), json!(100_001)] {
        let r = app
            .post(
                "/webhooks",
                &json!({"url": "https://example.com/", "event_types": ["a"], "rate_limit": bad}),
            )
            .await;
        assert_eq!(r.status(), 422, "{bad}");
        assert!(r.text().await.unwrap().contains("rate_limit"), "{bad}");
    }
    let webhook = app.create_webhook("https://example.com/", &["a"]).await;
    assert_eq!(webhook["rate_limit"], serde_json::Value::Null);
    let location = format!("/webhooks/{}", webhook["id"].as_str().unwrap());
    let r = app.patch(&location, &json!({"rate_limit": 5})).await;
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["rate_limit"],
        5
    );
    let r = app.patch(&location, &json!({"description": "x"})).await;
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["rate_limit"],
        5,
        "kept"
    );
    let r = app.patch(&location, &json!({"rate_limit": null})).await;
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["rate_limit"],
        serde_json::Value::Null,
        "cleared"
    );
}
