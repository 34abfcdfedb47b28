//! What a receiver gets, and what hookrelay does when it does not answer 2xx.

use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{bind, closed_port, schedule, spawn_app_with, Receiver, Reply};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_is_signed_so_the_official_verifier_accepts_it() {
    let app = spawn_app_with(|_| {}).await;
    let receiver = Receiver::ok().await;
    let webhook = app.create_webhook(&receiver.url, &["order.created"]).await;
    let secret = webhook["secret"].as_str().unwrap().to_owned();
    let payload = json!({"order_id": 42, "total": "9.99", "items": [1, 2.5, null, {"deep": true}], "name": "Zoë"});
    let event = app.emit("order.created", payload.clone()).await;

    let got = receiver.wait_for(1, Duration::from_secs(10)).await;
    let r = &got[0];
    // Standard Webhooks, checked by a verifier nobody here wrote.
    standardwebhooks::Webhook::new(&secret)
        .unwrap()
        .verify(&r.body, &r.headers)
        .expect("webhook-signature verifies");
    // X-Webhook-Signature: HMAC-SHA256 keyed with the secret string, over the body.
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(&r.body);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        r.header("x-webhook-signature"),
        format!("sha256={expected}")
    );
    assert_eq!(r.json(), payload, "the body is JSON-equal to the payload");
    assert_eq!(r.header("content-type"), "application/json");
    assert_eq!(r.header("x-webhook-event"), "order.created");
    assert!(r.header("user-agent").starts_with("hookrelay/"));
    let deliveries = app.deliveries_of(event["id"].as_str().unwrap()).await;
    let delivery_id = deliveries[0]["id"].as_str().unwrap();
    assert_eq!(r.header("webhook-id"), delivery_id);
    assert_eq!(r.header("x-delivery-id"), delivery_id);
    let d = app
        .wait_for_status(delivery_id, "success", Duration::from_secs(10))
        .await;
    assert_eq!(d["attempts"], 1);
    assert_eq!(d["last_status_code"], 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_failing_twice_gets_a_third_attempt_after_the_scheduled_gaps() {
    let delays = [100, 200, 400, 800, 1600];
    let app = spawn_app_with(|c| c.retry_schedule = schedule(&delays)).await;
    let receiver = Receiver::start(|n| {
        if n < 2 {
            Reply::status(500)
        } else {
            Reply::status(200)
        }
    })
    .await;
    app.create_webhook(&receiver.url, &["order.paid"]).await;
    let event = app.emit("order.paid", json!({"n": 1})).await;
    let id = app.deliveries_of(event["id"].as_str().unwrap()).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let d = app
        .wait_for_status(&id, "success", Duration::from_secs(20))
        .await;
    assert_eq!(d["attempts"], 3);
    let codes: Vec<i64> = d["attempt_log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status_code"].as_i64().unwrap())
        .collect();
    assert_eq!(codes, [500, 500, 200]);
    let got = receiver.received();
    assert_eq!(got.len(), 3);
    for (i, pair) in got.windows(2).enumerate() {
        let gap = pair[1].at - pair[0].at;
        assert!(
            gap >= Duration::from_millis(delays[i]),
            "gap {i} was {gap:?}, schedule says {}ms",
            delays[i]
        );
    }
    // Every attempt carries the same id and the same bytes.
    assert!(got
        .iter()
        .all(|r| r.header("webhook-id") == id && r.body == got[0].body));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_always_fails_gets_six_attempts_then_the_delivery_fails() {
    let delays = [50, 100, 200, 400, 800];
    let app = spawn_app_with(|c| c.retry_schedule = schedule(&delays)).await;
    let receiver = Receiver::start(|_| Reply::status(500).body("boom")).await;
    app.create_webhook(&receiver.url, &["order.paid"]).await;
    let event = app.emit("order.paid", json!({})).await;
    let id = app.deliveries_of(event["id"].as_str().unwrap()).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let d = app
        .wait_for_status(&id, "failed", Duration::from_secs(30))
        .await;
    assert_eq!(d["attempts"], 6);
    assert_eq!(d["last_status_code"], 500);
    let log = d["attempt_log"].as_array().unwrap();
    assert_eq!(log.len(), 6);
    assert!(log
        .iter()
        .all(|a| a["status_code"] == 500 && a["response_body"] == "boom"));
    let attempts: Vec<i64> = log.iter().map(|a| a["attempt"].as_i64().unwrap()).collect();
    assert_eq!(attempts, [1, 2, 3, 4, 5, 6]);
    let got = receiver.received();
    assert_eq!(got.len(), 6, "no attempt after the budget is spent");
    let gaps: Vec<Duration> = got.windows(2).map(|p| p[1].at - p[0].at).collect();
    for (i, gap) in gaps.iter().enumerate() {
        assert!(
            *gap >= Duration::from_millis(delays[i]),
            "gap {i} was {gap:?}, schedule says {}ms",
            delays[i]
        );
    }
    assert!(gaps[4] > gaps[0], "gaps grow: {gaps:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_is_down_when_the_event_is_emitted_gets_it_once_it_is_up() {
    let app = spawn_app_with(|c| c.retry_schedule = schedule(&[100, 200, 400, 800, 1600])).await;
    let port = closed_port();
    app.create_webhook(&format!("http://127.0.0.1:{port}/hook"), &["user.signup"])
        .await;
    let event = app.emit("user.signup", json!({"user": "ada"})).await;
    let id = app.deliveries_of(event["id"].as_str().unwrap()).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // The first attempt is refused and recorded as such.
    let seen = app
        .wait_for_delivery(&id, "a first attempt", Duration::from_secs(10), |d| {
            d["attempt_log"].as_array().is_some_and(|l| !l.is_empty())
        })
        .await;
    assert!(
        seen["attempt_log"][0]["error"]
            .as_str()
            .unwrap()
            .contains("connection"),
        "{seen:#}"
    );

    let receiver = Receiver::start_on(bind(port), |_| Reply::status(204)).await;
    let d = app
        .wait_for_status(&id, "success", Duration::from_secs(20))
        .await;
    assert!(d["attempts"].as_i64().unwrap() >= 2);
    assert_eq!(receiver.received()[0].json(), json!({"user": "ada"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_hangs_past_the_timeout_fails_the_attempt_as_a_timeout() {
    let app = spawn_app_with(|c| {
        c.delivery_timeout = Duration::from_millis(300);
        c.retry_schedule = schedule(&[]);
    })
    .await;
    let receiver = Receiver::start(|_| Reply::status(200).after(Duration::from_secs(5))).await;
    app.create_webhook(&receiver.url, &["slow.thing"]).await;
    let event = app.emit("slow.thing", json!(1)).await;
    let id = app.deliveries_of(event["id"].as_str().unwrap()).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let d = app
        .wait_for_status(&id, "failed", Duration::from_secs(10))
        .await;
    let attempt = &d["attempt_log"][0];
    assert!(
        attempt["error"].as_str().unwrap().starts_with("timeout"),
        "{d:#}"
    );
    assert!(attempt["status_code"].is_null());
    assert!(
        attempt["duration_ms"].as_i64().unwrap() < 3000,
        "the attempt ended at the timeout: {d:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_fails_at_once_and_retry_after_is_honoured() {
    let app = spawn_app_with(|c| c.retry_schedule = schedule(&[10, 10, 10])).await;
    let gone = Receiver::start(|_| Reply::status(410)).await;
    let busy = Receiver::start(|n| {
        if n == 0 {
            Reply::status(429).header("Retry-After", "1")
        } else {
            Reply::status(200)
        }
    })
    .await;
    app.create_webhook(&gone.url, &["a"]).await;
    app.create_webhook(&busy.url, &["b"]).await;
    let a = app.emit("a", json!({})).await;
    let b = app.emit("b", json!({})).await;
    let a_id = app.deliveries_of(a["id"].as_str().unwrap()).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let b_id = app.deliveries_of(b["id"].as_str().unwrap()).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let d = app
        .wait_for_status(&a_id, "failed", Duration::from_secs(10))
        .await;
    assert_eq!(d["attempts"], 1, "410 ends the delivery: {d:#}");
    app.wait_for_status(&b_id, "success", Duration::from_secs(10))
        .await;
    let got = busy.received();
    assert!(
        got[1].at - got[0].at >= Duration::from_secs(1),
        "Retry-After: 1 was not honoured"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_not_followed() {
    let app = spawn_app_with(|c| c.retry_schedule = schedule(&[])).await;
    let target = Receiver::ok().await;
    let redirecting = {
        let to = target.url.clone();
        Receiver::start(move |_| Reply::status(307).header("Location", &to)).await
    };
    app.create_webhook(&redirecting.url, &["a"]).await;
    let event = app.emit("a", json!({})).await;
    let id = app.deliveries_of(event["id"].as_str().unwrap()).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let d = app
        .wait_for_status(&id, "failed", Duration::from_secs(10))
        .await;
    assert_eq!(d["last_status_code"], 307);
    assert_eq!(target.count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_2xx_whose_body_breaks_off_is_a_success_with_the_break_noted() {
    let app = spawn_app_with(|_| {}).await;
    // A receiver that promises 100 bytes of body, sends 5 and hangs up.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                read_request(&mut conn).await;
                let _ = conn
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")
                    .await;
                let _ = conn.shutdown().await;
            });
        }
    });
    app.create_webhook(&url, &["short.body"]).await;
    let event = app.emit("short.body", json!({"n": 1})).await;
    let id = app.deliveries_of(event["id"].as_str().unwrap()).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let d = app
        .wait_for_delivery(&id, "success or failed", Duration::from_secs(20), |d| {
            d["status"] == "success" || d["status"] == "failed"
        })
        .await;
    assert_eq!(d["status"], "success", "{d:#}");
    assert_eq!(d["attempts"], 1, "{d:#}");
    let log = d["attempt_log"].as_array().unwrap();
    assert_eq!(log.len(), 1, "{d:#}");
    assert_eq!(log[0]["status_code"], 200, "{d:#}");
    let body = log[0]["response_body"].as_str().unwrap();
    assert!(
        body.starts_with("short") && body.contains("body read failed"),
        "{d:#}"
    );
}

/// Reads one HTTP request: its headers, then as many body bytes as they announce.
async fn read_request(conn: &mut tokio::net::TcpStream) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                return;
            }
        }
        match conn.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// An event as the API answers it, its payload kept as text.
#[derive(serde::Deserialize)]
struct EventText {
    id: String,
    payload: Box<serde_json::value::RawValue>,
}

/// The text of the console's `<pre id="payload-body">`, unescaped.
fn console_payload(page: &str) -> String {
    let start = page
        .find(r#"<pre id="payload-body">"#)
        .expect("a payload on the page")
        + r#"<pre id="payload-body">"#.len();
    let end = start + page[start..].find("</pre>").expect("the payload ends");
    page[start..end]
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payload_reaches_the_receiver_and_every_read_byte_for_byte() {
    let app = spawn_app_with(|_| {}).await;
    let receiver = Receiver::ok().await;
    let webhook = app.create_webhook(&receiver.url, &["order.created"]).await;
    let secret = webhook["secret"].as_str().unwrap().to_owned();
    // Keys in reverse alphabetical order, number text that a parsed value
    // would not keep (2.50, 1.0e3), spacing of the client's own, a
    // duplicated key, an escape and a character that needs HTML escaping.
    let payload = r#"{"zeta": [ 3,2 ,1 ], "total" :2.50,  "order_id": 42, "big": 1.0e3, "note": "a<b & \"c\"\n", "dup": 1, "dup": 2}"#;
    let send = |path: String, body: String| {
        app.http
            .post(format!("{}{path}", app.address))
            .header("Content-Type", "application/json")
            .body(body)
            .send()
    };

    let r = send(
        "/events".into(),
        format!(r#"{{"type": "order.created", "payload": {payload}}}"#),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    let created: EventText = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(created.payload.get(), payload, "the answer to POST /events");

    let got = receiver.wait_for(1, Duration::from_secs(10)).await;
    let r = &got[0];
    assert_eq!(
        std::str::from_utf8(&r.body).unwrap(),
        payload,
        "the receiver got the client's bytes"
    );
    standardwebhooks::Webhook::new(&secret)
        .unwrap()
        .verify(payload.as_bytes(), &r.headers)
        .expect("webhook-signature covers those bytes");
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(payload.as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(r.header("x-webhook-signature"), format!("sha256={hex}"));

    // Every read answers the same text.
    let id = &created.id;
    let read = app
        .get(&format!("/events/{id}"))
        .await
        .text()
        .await
        .unwrap();
    let read: EventText = serde_json::from_str(&read).unwrap();
    assert_eq!(read.payload.get(), payload, "GET /events/{{id}}");
    #[derive(serde::Deserialize)]
    struct Page {
        data: Vec<EventText>,
    }
    let list = app.get("/events").await.text().await.unwrap();
    let list: Page = serde_json::from_str(&list).unwrap();
    assert_eq!(list.data.len(), 1);
    assert_eq!(list.data[0].payload.get(), payload, "GET /events");
    let delivery = app.deliveries_of(id).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let page = app.get(&format!("/console/deliveries/{delivery}")).await;
    assert_eq!(page.status(), 200);
    assert_eq!(
        console_payload(&page.text().await.unwrap()),
        payload,
        "the console's delivery page"
    );

    // A test event's payload is kept the same way.
    let webhook_id = webhook["id"].as_str().unwrap();
    let r = send(
        format!("/webhooks/{webhook_id}/test"),
        format!(r#"{{"payload": {payload}}}"#),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 202);
    let got = receiver.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(
        std::str::from_utf8(&got[1].body).unwrap(),
        payload,
        "a test event"
    );
}
