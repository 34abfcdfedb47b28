//! Bad input: a clear 4xx problem+json naming what was wrong, and nothing written.

use serde_json::Value;

use crate::helpers::spawn_app_with;

struct Case {
    name: &'static str,
    method: &'static str,
    path: String,
    content_type: &'static str,
    body: Vec<u8>,
    status: u16,
    /// A word the problem's detail must mention (the field).
    mentions: &'static str,
}

fn case(
    name: &'static str,
    method: &'static str,
    path: &str,
    body: &str,
    status: u16,
    mentions: &'static str,
) -> Case {
    Case {
        name,
        method,
        path: path.to_owned(),
        content_type: "application/json",
        body: body.as_bytes().to_vec(),
        status,
        mentions,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_a_4xx_problem_and_write_nothing() {
    let app = spawn_app_with(|c| c.max_payload = 1024).await;
    let missing = uuid::Uuid::new_v4();
    let big = format!(r#"{{"type": "a", "payload": "{}"}}"#, "x".repeat(2000));
    let mut cases = vec![
        case(
            "malformed JSON",
            "POST",
            "/webhooks",
            r#"{"url": "#,
            400,
            "JSON",
        ),
        case(
            "malformed event JSON",
            "POST",
            "/events",
            "{type: a}",
            400,
            "JSON",
        ),
        case(
            "trailing garbage",
            "POST",
            "/events",
            r#"{"type": "a", "payload": 1} x"#,
            400,
            "JSON",
        ),
        case("empty body", "POST", "/events", "", 400, "empty"),
        case(
            "url of the wrong type",
            "POST",
            "/webhooks",
            r#"{"url": 5, "event_types": ["a"]}"#,
            422,
            "url",
        ),
        case(
            "event_types not a list",
            "POST",
            "/webhooks",
            r#"{"url": "https://example.com", "event_types": "a"}"#,
            422,
            "event_types",
        ),
        case(
            "missing url",
            "POST",
            "/webhooks",
            r#"{"event_types": ["a"]}"#,
            422,
            "url",
        ),
        case(
            "relative url",
            "POST",
            "/webhooks",
            r#"{"url": "/hooks", "event_types": ["a"]}"#,
            422,
            "url",
        ),
        case(
            "ftp url",
            "POST",
            "/webhooks",
            r#"{"url": "ftp://example.com/x", "event_types": ["a"]}"#,
            422,
            "url",
        ),
        case(
            "no event types",
            "POST",
            "/webhooks",
            r#"{"url": "https://example.com", "event_types": []}"#,
            422,
            "event_types",
        ),
        case(
            "bad event type",
            "POST",
            "/webhooks",
            r#"{"url": "https://example.com", "event_types": ["has space"]}"#,
            422,
            "event_types",
        ),
        case(
            "wildcard with others",
            "POST",
            "/webhooks",
            r#"{"url": "https://example.com", "event_types": ["*", "a"]}"#,
            422,
            "event_types",
        ),
        case(
            "bad secret",
            "POST",
            "/webhooks",
            r#"{"url": "https://example.com", "event_types": ["a"], "secret": "hunter2"}"#,
            422,
            "secret",
        ),
        case(
            "unknown field",
            "POST",
            "/webhooks",
            r#"{"url": "https://example.com", "event_types": ["a"], "colour": 1}"#,
            422,
            "colour",
        ),
        case(
            "bad event type on emit",
            "POST",
            "/events",
            r#"{"type": "order created", "payload": {}}"#,
            422,
            "type",
        ),
        case(
            "wildcard event type on emit",
            "POST",
            "/events",
            r#"{"type": "*", "payload": {}}"#,
            422,
            "type",
        ),
        case(
            "type of the wrong type",
            "POST",
            "/events",
            r#"{"type": 1, "payload": {}}"#,
            422,
            "type",
        ),
        case(
            "missing payload",
            "POST",
            "/events",
            r#"{"type": "a"}"#,
            422,
            "payload",
        ),
        case(
            "NUL in payload",
            "POST",
            "/events",
            r#"{"type": "a", "payload": "\u0000"}"#,
            422,
            "payload",
        ),
        case("oversized body", "POST", "/events", &big, 413, "limit"),
        case(
            "unknown webhook",
            "GET",
            &format!("/webhooks/{missing}"),
            "",
            404,
            "webhook",
        ),
        case(
            "not-a-UUID webhook",
            "GET",
            "/webhooks/42",
            "",
            404,
            "webhook",
        ),
        case(
            "unknown event",
            "GET",
            &format!("/events/{missing}"),
            "",
            404,
            "event",
        ),
        case(
            "not-a-UUID delivery",
            "GET",
            "/deliveries/nope",
            "",
            404,
            "delivery",
        ),
        case(
            "retry unknown delivery",
            "POST",
            &format!("/deliveries/{missing}/retry"),
            "",
            404,
            "delivery",
        ),
        case(
            "patch unknown webhook",
            "PATCH",
            &format!("/webhooks/{missing}"),
            r#"{"enabled": false}"#,
            404,
            "webhook",
        ),
        case(
            "delete not-a-UUID",
            "DELETE",
            "/webhooks/xyz",
            "",
            404,
            "webhook",
        ),
        case(
            "limit too large",
            "GET",
            "/events?limit=1000000000000",
            "",
            422,
            "limit",
        ),
        case(
            "limit negative",
            "GET",
            "/deliveries?limit=-1",
            "",
            422,
            "limit",
        ),
        case(
            "garbage cursor",
            "GET",
            "/webhooks?cursor=garbage",
            "",
            422,
            "cursor",
        ),
        case(
            "unknown status filter",
            "GET",
            "/deliveries?status=lost",
            "",
            422,
            "status",
        ),
        case(
            "bad since",
            "POST",
            &format!("/webhooks/{missing}/retry-failed?since=yesterday"),
            "",
            422,
            "since",
        ),
        case("unknown route", "GET", "/nothing-here", "", 404, "route"),
    ];
    cases.push(Case {
        name: "wrong content type",
        method: "POST",
        path: "/events".into(),
        content_type: "text/plain",
        body: br#"{"type": "a", "payload": 1}"#.to_vec(),
        status: 415,
        mentions: "Content-Type",
    });
    cases.push(Case {
        name: "invalid UTF-8",
        method: "POST",
        path: "/events".into(),
        content_type: "application/json",
        body: b"{\"type\": \"a\", \"payload\": \"\xff\xfe\"}".to_vec(),
        status: 400,
        mentions: "JSON",
    });

    for c in cases {
        let r = app
            .http
            .request(
                c.method.parse().unwrap(),
                format!("{}{}", app.address, c.path),
            )
            .header("Content-Type", c.content_type)
            .body(c.body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), c.status, "{}", c.name);
        assert_eq!(
            r.headers().get("content-type").unwrap(),
            "application/problem+json",
            "{}",
            c.name
        );
        let problem: Value = r.json().await.unwrap();
        assert_eq!(problem["status"], c.status, "{}", c.name);
        assert!(
            problem["title"].is_string() && problem["type"].is_string(),
            "{}",
            c.name
        );
        let detail = problem["detail"].as_str().unwrap();
        assert!(
            detail.contains(c.mentions),
            "{}: detail {detail:?} should mention {:?}",
            c.name,
            c.mentions
        );
    }
    for table in [
        "webhooks",
        "events",
        "deliveries",
        "delivery_attempts",
        "idempotency_keys",
    ] {
        assert_eq!(
            app.count(table).await,
            0,
            "{table} has rows after bad requests only"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payload_with_a_nul_escape_is_refused_naming_the_field_and_why() {
    let app = spawn_app_with(|_| {}).await;
    let emit = |body: &'static str| {
        app.http
            .post(format!("{}/events", app.address))
            .header("Content-Type", "application/json")
            .body(body)
            .send()
    };
    for (name, body) in [
        (
            "NUL in a value",
            r#"{"type":"a.b","payload":{"x":"a\u0000b"}}"#,
        ),
        ("NUL in a key", r#"{"type":"a.b","payload":{"a\u0000":1}}"#),
    ] {
        let r = emit(body).await.unwrap();
        assert_eq!(r.status(), 422, "{name}");
        let problem: Value = r.json().await.unwrap();
        let detail = problem["detail"].as_str().unwrap();
        assert!(
            detail.starts_with("payload")
                && detail.contains("NUL")
                && detail.contains("PostgreSQL"),
            "{name}: {detail}"
        );
    }
    // Half a surrogate pair names no character either: refused as jsonb
    // refused it when payloads were stored as jsonb.
    let r = emit(r#"{"type":"a.b","payload":{"x":"\ud800"}}"#)
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let problem: Value = r.json().await.unwrap();
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("payload") && detail.contains("surrogate"),
        "{detail}"
    );
    assert_eq!(app.count("events").await, 0, "nothing stored");

    // An escaped backslash followed by the letters u0000 is no NUL.
    let r = emit(r#"{"type":"a.b","payload":{"x":"a\\u0000b"}}"#)
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let event: Value = r.json().await.unwrap();
    assert_eq!(event["payload"]["x"], "a\\u0000b");
    assert_eq!(app.count("events").await, 1);
}
