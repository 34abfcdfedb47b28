//! Tenants: fan-out within a tenant, what a tenant token may and may not
//! reach (every served route, against another tenant's objects and its own),
//! tokens that expire or are revoked, a tenant deleted under load, idempotency
//! keys per tenant, and the migration of a database from before tenants.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio_postgres::NoTls;

use crate::helpers::{
    eventually, fresh_database, spawn_app, spawn_app_on, spawn_app_with, test_config, Process,
    Receiver, Reply, TestApp,
};

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("a string: {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_fans_out_to_its_own_tenants_webhooks_only() {
    let app = spawn_app().await;
    let tenants = ["acme", "globex", "initech"];
    let mut receivers = Vec::new();
    for t in tenants {
        app.create_tenant(t).await;
        let r = Receiver::ok().await;
        // Every tenant subscribes the same way: only the tenant tells them apart.
        app.create_webhook_for(t, &r.url, &["order.created"]).await;
        app.create_webhook_for(t, &r.url, &["*"]).await;
        receivers.push(r);
    }
    let default = Receiver::ok().await;
    app.create_webhook(&default.url, &["*"]).await;

    for t in tenants {
        let event = app.emit_for(t, "order.created", json!({"for": t})).await;
        assert_eq!(event["tenant"], t);
        assert_eq!(event["deliveries"], 2, "{t}: its two webhooks, no other");
    }
    for (t, r) in tenants.iter().zip(&receivers) {
        let got = r.wait_for(2, Duration::from_secs(10)).await;
        for request in got {
            assert_eq!(request.json(), json!({"for": t}), "{t} got another's event");
        }
    }
    // Every delivery there is, is one of those six: nothing else was made,
    // so nothing else can arrive later.
    let rows = app
        .db
        .query(
            "SELECT d.tenant, w.tenant AS webhook_tenant, e.tenant AS event_tenant
             FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id JOIN events e ON e.id = d.event_id",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 6);
    for row in rows {
        let (d, w, e): (String, String, String) = (row.get(0), row.get(1), row.get(2));
        assert!(d == w && w == e, "delivery {d}, webhook {w}, event {e}");
    }
    assert_eq!(
        default.count(),
        0,
        "the default tenant's wildcard got nothing"
    );
    assert!(receivers.iter().all(|r| r.count() == 2));

    // Lists narrow to one tenant with ?tenant=.
    let page = app.get_json("/events?tenant=globex").await;
    let listed: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| s(&e["tenant"]))
        .collect();
    assert_eq!(listed, ["globex"]);
    let page = app.get_json("/deliveries?tenant=acme").await;
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    assert!(page["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["tenant"] == "acme"));
    let page = app.get_json("/webhooks?tenant=initech").await;
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    // /metrics stays free of a label per tenant.
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(!metrics.contains("tenant"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_for_a_tenant_that_does_not_exist_is_refused_and_nothing_is_stored() {
    let app = spawn_app().await;
    let (status, body) = app
        .call(
            "POST",
            "/events",
            None,
            Some(&json!({"tenant": "nobody", "type": "a", "payload": 1})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(s(&body["detail"]).starts_with("tenant:"), "{body}");
    let (status, _) = app
        .call(
            "POST",
            "/events",
            None,
            Some(&json!({"tenant": "no/slash", "type": "a", "payload": 1})),
        )
        .await;
    assert_eq!(status, 422);
    let (status, _) = app
        .call(
            "POST",
            "/webhooks",
            None,
            Some(&json!({"tenant": "nobody", "url": "https://example.com", "event_types": ["a"]})),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(app.count("events").await, 0);
    assert_eq!(app.count("webhooks").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_keys_are_per_tenant() {
    let app = spawn_app().await;
    app.create_tenant("a").await;
    app.create_tenant("b").await;
    let emit = |tenant: &'static str| {
        let app = &app;
        async move {
            let r = app
                .http
                .post(format!("{}/events", app.address))
                .header("Idempotency-Key", "order-42")
                .json(&json!({"tenant": tenant, "type": "order.created", "payload": {"t": tenant}}))
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (first_a, a) = emit("a").await;
    let (first_b, b) = emit("b").await;
    assert_eq!(
        (first_a, first_b),
        (201, 201),
        "the same key in two tenants: two events"
    );
    assert_ne!(a["id"], b["id"]);
    assert_eq!(b["tenant"], "b");
    let (again, repeated) = emit("a").await;
    assert_eq!(again, 200);
    assert_eq!(repeated["id"], a["id"], "a repeat in a names a's event");
    assert_eq!(repeated["payload"], json!({"t": "a"}));
    assert_eq!(app.count("events").await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_are_created_changed_listed_and_read() {
    let app = spawn_app().await;
    let (status, t) = app
        .call(
            "PUT",
            "/tenants/cus_42",
            None,
            Some(&json!({"name": "Acme", "metadata": {"plan": "pro"}})),
        )
        .await;
    assert_eq!(status, 201, "{t}");
    assert_eq!(
        (t["key"].clone(), t["name"].clone(), t["metadata"].clone()),
        (json!("cus_42"), json!("Acme"), json!({"plan": "pro"}))
    );
    let (status, t) = app
        .call("PUT", "/tenants/cus_42", None, Some(&json!({"name": null})))
        .await;
    assert_eq!(status, 200);
    assert_eq!(t["name"], Value::Null);
    assert_eq!(t["metadata"], json!({"plan": "pro"}), "left out, kept");
    let (status, _) = app.call("PUT", "/tenants/bare", None, None).await;
    assert_eq!(status, 201, "no body: a tenant with no name");

    for (path, body, field) in [
        ("/tenants/a%20b", json!({}), "key"),
        ("/tenants/ok", json!({"metadata": [1]}), "metadata"),
        (
            "/tenants/ok",
            json!({"metadata": {"x": "y".repeat(4100)}}),
            "metadata",
        ),
        ("/tenants/ok", json!({"name": "n".repeat(300)}), "name"),
        ("/tenants/ok", json!({"nope": 1}), "nope"),
    ] {
        let (status, body) = app.call("PUT", path, None, Some(&body)).await;
        assert_eq!(status, 422, "{path}: {body}");
        assert!(s(&body["detail"]).contains(field), "{body}");
    }
    assert_eq!(
        app.call("GET", "/tenants/ok", None, None).await.0,
        404,
        "nothing half-written"
    );

    let page = app.get_json("/tenants?limit=2").await;
    let keys: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| s(&t["key"]))
        .collect();
    assert_eq!(keys, ["bare", "cus_42"], "newest first");
    let next = app
        .get_json(&format!(
            "/tenants?limit=2&cursor={}",
            s(&page["next_cursor"])
        ))
        .await;
    assert_eq!(next["data"][0]["key"], "default", "default always exists");
    assert_eq!(next["next_cursor"], Value::Null);

    assert_eq!(
        app.call("DELETE", "/tenants/default", None, None).await.0,
        409
    );
    assert_eq!(
        app.call("DELETE", "/tenants/nobody", None, None).await.0,
        404
    );
}

/// Routes only the operator may use, from the API reference (not from the
/// code): a tenant token gets 403 on them, whatever they name.
const OPERATOR_ONLY: &[(&str, &str)] = &[
    ("POST", "/events"),
    ("PUT", "/event-types/{type}"),
    ("DELETE", "/event-types/{type}"),
    ("GET", "/metrics"),
    ("GET", "/tenants"),
    ("PUT", "/tenants/{key}"),
    ("DELETE", "/tenants/{key}"),
    ("POST", "/tenants/{key}/tokens"),
    ("DELETE", "/tenants/{key}/tokens"),
    ("POST", "/tenants/{key}/portal"),
];

/// Routes that hold no tenant's data: any caller may read them.
const SHARED: &[(&str, &str)] = &[
    ("GET", "/event-types"),
    ("GET", "/event-types/{type}"),
    ("GET", "/openapi.json"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
];

const LISTS: &[&str] = &["/webhooks", "/events", "/deliveries"];

/// One tenant's objects, to aim requests at.
struct Objects {
    tenant: String,
    webhook: String,
    /// A second webhook, for DELETE.
    spare_webhook: String,
    secret: String,
    event: String,
    delivery: String,
}

impl Objects {
    /// The route's path aimed at these objects.
    fn aim(&self, method: &str, path: &str) -> String {
        let id = if path.starts_with("/webhooks/") && method == "DELETE" {
            &self.spare_webhook
        } else if path.starts_with("/webhooks/") {
            &self.webhook
        } else if path.starts_with("/events/") {
            &self.event
        } else {
            &self.delivery
        };
        path.replace("{id}", id)
            .replace("{key}", &self.tenant)
            .replace("{type}", "order.created")
    }

    /// What of these objects must never show in another tenant's answer.
    fn traces(&self) -> [&str; 5] {
        [
            &self.webhook,
            &self.spare_webhook,
            &self.secret,
            &self.event,
            &self.delivery,
        ]
    }
}

/// A body each route takes (ignored by those that take none). Against
/// another tenant's webhook, a PATCH would disable it, for all to see.
fn body_for(method: &str, path: &str, own: bool) -> Option<Value> {
    match (method, path) {
        ("PATCH", _) if own => Some(json!({"description": "changed"})),
        ("PATCH", _) => Some(json!({"description": "changed", "enabled": false})),
        ("POST", "/webhooks") => {
            Some(json!({"url": "https://example.com/x", "event_types": ["a"]}))
        }
        ("POST", "/events") => Some(json!({"type": "order.created", "payload": 1})),
        ("PUT", _) => Some(json!({})),
        _ => None,
    }
}

/// Metadata of exactly `size` bytes as compact JSON: 400 short keys (each
/// of which jsonb writes two bytes longer), then a string to make up the size.
fn metadata_of(size: usize) -> Value {
    let mut metadata = serde_json::Map::new();
    for n in 0..400 {
        metadata.insert(format!("k{n:04}"), json!(0));
    }
    let so_far = Value::Object(metadata.clone()).to_string().len();
    let pad = size - so_far - r#","pad":"""#.len();
    metadata.insert("pad".into(), json!("x".repeat(pad)));
    let metadata = Value::Object(metadata);
    assert_eq!(metadata.to_string().len(), size);
    metadata
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_is_held_to_one_size_rule_whatever_its_shape() {
    let app = spawn_app().await;
    // At the limit as compact JSON, and longer than it as jsonb writes it:
    // many keys (a space after each colon and comma), and numbers jsonb
    // writes out in full (1e-300 is 302 characters there).
    let tiny: Vec<Value> = (0..580).map(|_| json!(1e-300)).collect();
    let tiny = json!({"tiny": tiny});
    assert!(tiny.to_string().len() <= 4096);
    for (key, metadata) in [("keys", metadata_of(4096)), ("numbers", tiny)] {
        let body = json!({"metadata": metadata});
        let (status, answer) = app
            .call("PUT", &format!("/tenants/{key}"), None, Some(&body))
            .await;
        assert_eq!(status, 201, "{key}: {answer}");
        assert_eq!(answer["metadata"], metadata, "{key}");
        let read = app.get_json(&format!("/tenants/{key}")).await;
        assert_eq!(read["metadata"], metadata, "{key}");
    }

    // One byte over: refused at the edge, naming the field and the rule.
    let over = json!({"metadata": metadata_of(4097)});
    let r = app.put("/tenants/keys", &over).await;
    assert_eq!(r.status(), 422);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    let problem: Value = r.json().await.unwrap();
    assert_eq!(problem["status"], 422);
    let detail = s(&problem["detail"]);
    assert!(
        detail.starts_with("metadata: must be at most 4096 bytes") && detail.ends_with("got 4097"),
        "{detail}"
    );
    let kept = app.get_json("/tenants/keys").await;
    assert_eq!(
        kept["metadata"],
        metadata_of(4096),
        "the refused PUT changed nothing"
    );
}

/// Every served route, from the document, as (METHOD, path template).
async fn served_routes(app: &TestApp, token: &str) -> Vec<(String, String)> {
    let doc = app.get_json_as("/openapi.json", token).await;
    let mut routes = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            routes.push((method.to_uppercase(), path.clone()));
        }
    }
    routes
}

fn listed(routes: &[(&str, &str)], method: &str, path: &str) -> bool {
    routes.iter().any(|(m, p)| *m == method && *p == path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_token_reaches_nothing_of_another_tenant_on_any_route() {
    let app = spawn_app_with(|c| c.api_tokens = vec!["operator-token".into()]).await;
    let op = Some("operator-token");
    let (status, _) = app
        .call("PUT", "/event-types/order.created", op, Some(&json!({})))
        .await;
    assert_eq!(status, 201);
    let receiver = Receiver::ok().await;
    // The operator makes every object (the helpers send no token; set one).
    let app = TokenApp {
        app,
        token: "operator-token",
    };
    let a = app.objects("victim", &receiver).await;
    let b = app.objects("mallory", &receiver).await;
    let (status, minted) = app
        .app
        .call("POST", "/tenants/mallory/tokens", op, None)
        .await;
    assert_eq!(status, 201);
    let token = s(&minted["token"]).to_owned();
    let as_b = Some(token.as_str());

    let routes = served_routes(&app.app, "operator-token").await;
    assert!(
        routes.len() >= 30,
        "the document lists every route: {routes:?}"
    );
    let mut walked = BTreeSet::new();
    for (method, template) in &routes {
        let (method, template) = (method.as_str(), template.as_str());
        let path = a.aim(method, template);
        let body = body_for(method, template, false);
        let (status, answer) = app.app.call(method, &path, as_b, body.as_ref()).await;
        let text = answer.to_string();
        // (A 404 may repeat the id it was asked for: that is the request, not data.)
        for trace in a.traces().into_iter().filter(|t| !path.contains(t)) {
            assert!(
                !text.contains(trace),
                "{method} {path} shows another tenant's {trace}: {text}"
            );
        }
        let expected = if listed(OPERATOR_ONLY, method, template) {
            403
        } else if listed(SHARED, method, template) {
            200
        } else if method == "GET" && LISTS.contains(&template) {
            // Naming the other tenant names nothing...
            let (named, _) = app
                .app
                .call("GET", &format!("{path}?tenant=victim"), as_b, None)
                .await;
            assert_eq!(named, 404, "GET {path}?tenant=victim");
            // ...and the list itself holds the caller's own objects only.
            let rows = answer["data"]
                .as_array()
                .unwrap_or_else(|| panic!("{path}: {answer}"));
            assert!(!rows.is_empty(), "{path} lists the caller's own");
            assert!(
                rows.iter().all(|r| r["tenant"] == "mallory"),
                "{path}: {answer}"
            );
            200
        } else if (method, template) == ("POST", "/webhooks") {
            // A body naming the other tenant: as if it did not exist.
            let aimed =
                json!({"tenant": "victim", "url": "https://example.com/x", "event_types": ["a"]});
            let missing =
                json!({"tenant": "nosuch", "url": "https://example.com/x", "event_types": ["a"]});
            let (s1, b1) = app.app.call("POST", "/webhooks", as_b, Some(&aimed)).await;
            let (s2, b2) = app
                .app
                .call("POST", "/webhooks", as_b, Some(&missing))
                .await;
            assert_eq!((s1, s2), (422, 422), "{b1} {b2}");
            assert_eq!(
                b1["detail"].as_str().map(|d| d.replace("victim", "nosuch")),
                b2["detail"].as_str().map(str::to_owned)
            );
            // Without a tenant, the webhook is the caller's own.
            assert_eq!(answer["tenant"], "mallory", "{answer}");
            201
        } else if template.contains("{id}") || template.contains("{key}") {
            // Exactly what a missing object gets.
            let missing = path
                .replace(&a.webhook, "00000000-0000-0000-0000-000000000000")
                .replace(&a.spare_webhook, "00000000-0000-0000-0000-000000000000")
                .replace(&a.event, "00000000-0000-0000-0000-000000000000")
                .replace(&a.delivery, "00000000-0000-0000-0000-000000000000")
                .replace("/tenants/victim", "/tenants/nosuch");
            let (gone, _) = app.app.call(method, &missing, as_b, body.as_ref()).await;
            assert_eq!(gone, 404, "{method} {missing}");
            404
        } else {
            panic!("{method} {template} is served but this test does not know what a tenant may do with it");
        };
        assert_eq!(
            status, expected,
            "{method} {path} with another tenant's token: {answer}"
        );
        walked.insert((method.to_owned(), template.to_owned()));
    }
    for (method, path) in OPERATOR_ONLY.iter().chain(SHARED) {
        assert!(
            walked.contains(&(method.to_string(), path.to_string())),
            "{method} {path} is not served"
        );
    }

    // The other tenant's objects are as they were.
    let webhook = app
        .app
        .get_json_as(&format!("/webhooks/{}", a.webhook), "operator-token")
        .await;
    assert_eq!(
        (webhook["enabled"].clone(), webhook["description"].clone()),
        (json!(true), Value::Null)
    );
    let secret = app
        .app
        .get_json_as(&format!("/webhooks/{}/secret", a.webhook), "operator-token")
        .await;
    assert_eq!(secret["secret"], a.secret.as_str());
    app.app
        .get_json_as(&format!("/webhooks/{}", a.spare_webhook), "operator-token")
        .await;
    let delivery = app
        .app
        .get_json_as(&format!("/deliveries/{}", a.delivery), "operator-token")
        .await;
    assert_eq!(
        (delivery["status"].clone(), delivery["attempts"].clone()),
        (json!("success"), json!(1))
    );
    app.app
        .get_json_as("/tenants/victim", "operator-token")
        .await;

    // And on its own objects, every route a tenant may use works.
    for (method, template) in &routes {
        let (method, template) = (method.as_str(), template.as_str());
        let path = b.aim(method, template);
        let body = body_for(method, template, true);
        let (status, answer) = app.app.call(method, &path, as_b, body.as_ref()).await;
        let expected = if listed(OPERATOR_ONLY, method, template) {
            403
        } else {
            match (method, template) {
                ("POST", "/webhooks") => 201,
                ("DELETE", "/webhooks/{id}") => 204,
                (
                    "POST",
                    "/webhooks/{id}/retry-failed"
                    | "/webhooks/{id}/test"
                    | "/deliveries/{id}/retry",
                ) => 202,
                _ => 200,
            }
        };
        assert_eq!(
            status, expected,
            "{method} {path} with its own tenant's token: {answer}"
        );
        for trace in a.traces() {
            assert!(
                !answer.to_string().contains(trace),
                "{method} {path} shows another tenant's {trace}"
            );
        }
    }
}

/// The app with an operator token sent on every helper call.
struct TokenApp {
    app: TestApp,
    token: &'static str,
}

impl TokenApp {
    async fn objects(&self, tenant: &str, receiver: &Receiver) -> Objects {
        let t = Some(self.token);
        let app = &self.app;
        assert_eq!(
            app.call("PUT", &format!("/tenants/{tenant}"), t, None)
                .await
                .0,
            201
        );
        let hook =
            |types: &[&str]| json!({"tenant": tenant, "url": receiver.url, "event_types": types});
        let (_, webhook) = app
            .call("POST", "/webhooks", t, Some(&hook(&["order.created"])))
            .await;
        let (_, spare) = app
            .call("POST", "/webhooks", t, Some(&hook(&["order.other"])))
            .await;
        let emitted =
            json!({"tenant": tenant, "type": "order.created", "payload": {"owner": tenant}});
        let (status, event) = app.call("POST", "/events", t, Some(&emitted)).await;
        assert_eq!(status, 201, "{event}");
        let page = app
            .get_json_as(
                &format!("/events/{}/deliveries", s(&event["id"])),
                self.token,
            )
            .await;
        let delivery = s(&page["data"][0]["id"]).to_owned();
        let done = eventually(Duration::from_secs(10), || async {
            app.get_json_as(&format!("/deliveries/{delivery}"), self.token)
                .await["status"]
                == "success"
        })
        .await;
        assert!(done, "the delivery finished");
        Objects {
            tenant: tenant.to_owned(),
            webhook: s(&webhook["id"]).to_owned(),
            spare_webhook: s(&spare["id"]).to_owned(),
            secret: s(&webhook["secret"]).to_owned(),
            event: s(&event["id"]).to_owned(),
            delivery,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_revoked_and_unknown_tenant_tokens_get_401() {
    // No operator tokens: a request without a token is the operator's, yet a
    // tenant token is still read as one, and a wrong one refused.
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let short = app.tenant_token("acme", "1s").await;
    let long = app.tenant_token("acme", "30d").await;
    assert!(short.starts_with("hrt_"));
    for token in [&short, &long] {
        let (status, t) = app.call("GET", "/tenants/acme", Some(token), None).await;
        assert_eq!(status, 200, "{t}");
        assert_eq!(
            app.call("GET", "/tenants", Some(token), None).await.0,
            403,
            "a tenant, not the operator"
        );
    }
    assert_eq!(
        app.call("GET", "/tenants", None, None).await.0,
        200,
        "no token: the operator"
    );
    assert_eq!(
        app.call("GET", "/tenants", Some("hrt_made_up"), None)
            .await
            .0,
        401
    );

    let expired = eventually(Duration::from_secs(10), || async {
        app.call("GET", "/tenants/acme", Some(&short), None).await.0 == 401
    })
    .await;
    assert!(expired, "a token of 1s still works 10s later");
    assert_eq!(
        app.call("GET", "/tenants/acme", Some(&long), None).await.0,
        200
    );

    let (status, revoked) = app.call("DELETE", "/tenants/acme/tokens", None, None).await;
    assert_eq!(status, 200);
    assert_eq!(revoked["revoked"], 2);
    let (status, body) = app.call("GET", "/tenants/acme", Some(&long), None).await;
    assert_eq!(status, 401, "revoked, at once: {body}");
    assert_eq!(body["status"], 401);

    // Deleting the tenant ends its tokens too.
    let fresh = app.tenant_token("acme", "1h").await;
    assert_eq!(
        app.call("GET", "/webhooks", Some(&fresh), None).await.0,
        200
    );
    assert_eq!(app.call("DELETE", "/tenants/acme", None, None).await.0, 204);
    assert_eq!(
        app.call("GET", "/webhooks", Some(&fresh), None).await.0,
        401
    );

    for ttl in ["0s", "31d", "soon"] {
        let (status, body) = app
            .call(
                "POST",
                "/tenants/acme/tokens",
                None,
                Some(&json!({"ttl": ttl})),
            )
            .await;
        assert_eq!(status, 422, "{ttl}: {body}");
        assert!(s(&body["detail"]).starts_with("ttl"), "{body}");
    }
    assert_eq!(
        app.call("POST", "/tenants/nobody/tokens", None, None)
            .await
            .0,
        404
    );
    // Tokens are stored as hashes only.
    let stored: i64 = app
        .db
        .query_one(
            "SELECT count(*) FROM tenant_tokens WHERE encode(hash, 'escape') LIKE '%hrt_%'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_portal_link_opens_at_the_public_url_with_a_tenant_token() {
    let app = spawn_app_with(|c| {
        c.public_url = Some("https://hooks.example.com/".parse().unwrap());
    })
    .await;
    app.create_tenant("acme").await;
    let (status, link) = app
        .call(
            "POST",
            "/tenants/acme/portal",
            None,
            Some(&json!({"ttl": "2h"})),
        )
        .await;
    assert_eq!(status, 201, "{link}");
    let token = s(&link["token"]);
    assert_eq!(
        s(&link["url"]),
        format!("https://hooks.example.com/portal#{token}")
    );
    assert_eq!(
        app.call("GET", "/tenants/acme", Some(token), None).await.0,
        200
    );
    assert_eq!(
        app.call("GET", "/tenants/default", Some(token), None)
            .await
            .0,
        404
    );

    let plain = spawn_app().await;
    plain.create_tenant("acme").await;
    let (_, link) = plain.call("POST", "/tenants/acme/portal", None, None).await;
    assert_eq!(
        s(&link["url"]),
        format!("{}/portal#{}", plain.address, s(&link["token"]))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_sent_to_a_deleted_tenant_once_delete_returns_under_load() {
    let app = Arc::new(spawn_app_with(|c| c.workers = 4).await);
    // A second process sends too: it hears of the delete only by NOTIFY.
    let _other = Process::start(&app.database_url, &[("HOOKRELAY_WORKERS", "4")]).await;
    app.create_tenant("doomed").await;
    app.create_tenant("kept").await;
    let slow = Receiver::start(|_| Reply::status(200).after(Duration::from_millis(40))).await;
    let kept = Receiver::ok().await;
    for _ in 0..3 {
        app.create_webhook_for("doomed", &slow.url, &["order.created"])
            .await;
    }
    app.create_webhook_for("kept", &kept.url, &["order.created"])
        .await;

    // A backlog: 600 deliveries due at once, sent eight at a time (some 3 s of work).
    let backlog = (0..200).map(|n| {
        let app = app.clone();
        async move {
            app.emit_for("doomed", "order.created", json!({"n": n}))
                .await
        }
    });
    futures_util::future::join_all(backlog).await;
    // Emitters that keep going, for both tenants, until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let emitters: Vec<_> = ["doomed", "kept"]
        .into_iter()
        .flat_map(|t| [t, t])
        .map(|tenant| {
            let (app, stop) = (app.clone(), stop.clone());
            tokio::spawn(async move {
                let mut statuses = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let body = json!({"tenant": tenant, "type": "order.created", "payload": {"late": true}});
                    statuses.push(app.call("POST", "/events", None, Some(&body)).await.0);
                }
                (tenant, statuses)
            })
        })
        .collect();
    slow.wait_for(30, Duration::from_secs(20)).await;

    let (status, _) = app.call("DELETE", "/tenants/doomed", None, None).await;
    let returned = Instant::now();
    assert_eq!(status, 204);

    // The emitters go on a little, then stop; what they get after is refused.
    let after_delete = slow.count();
    let later = kept.count() + 20;
    assert!(eventually(Duration::from_secs(20), || async { kept.count() >= later }).await);
    stop.store(true, Ordering::Relaxed);
    let mut doomed_events = 200;
    for emitter in emitters {
        let (tenant, statuses) = emitter.await.unwrap();
        assert!(
            statuses
                .iter()
                .all(|s| *s == 201 || (tenant == "doomed" && *s == 422)),
            "{tenant}: {statuses:?}"
        );
        if tenant == "doomed" {
            doomed_events += statuses.iter().filter(|s| **s == 201).count();
            assert_eq!(
                statuses.last(),
                Some(&422),
                "the doomed tenant's last events were refused"
            );
        }
    }
    // Once nothing of it is being sent any more...
    let idle = eventually(Duration::from_secs(20), || async {
        let row = app
            .db
            .query_one(
                "SELECT count(*) FROM deliveries WHERE tenant = 'doomed' AND status = 'processing'",
                &[],
            )
            .await
            .unwrap();
        row.get::<_, i64>(0) == 0
    })
    .await;
    assert!(idle, "the deleted tenant's deliveries are still being sent");
    // ...nothing was sent after DELETE answered...
    let late: Vec<_> = slow
        .received()
        .into_iter()
        .filter(|r| r.at > returned)
        .collect();
    assert!(
        late.is_empty(),
        "{} requests reached the deleted tenant's receiver after DELETE returned",
        late.len()
    );
    assert!(
        slow.count() < 3 * doomed_events,
        "all {} deliveries were sent before the delete: the test proved nothing",
        3 * doomed_events
    );
    // ...and its rows go, so nothing is left that could be sent later.
    let purged = eventually(Duration::from_secs(30), || async {
        let row = app
            .db
            .query_one(
                "SELECT (SELECT count(*) FROM deliveries WHERE tenant = 'doomed')
                      + (SELECT count(*) FROM webhooks WHERE tenant = 'doomed')
                      + (SELECT count(*) FROM events WHERE tenant = 'doomed')
                      + (SELECT count(*) FROM tenants WHERE key = 'doomed')",
                &[],
            )
            .await
            .unwrap();
        row.get::<_, i64>(0) == 0
    })
    .await;
    assert!(purged, "the deleted tenant's rows were not purged");
    assert_eq!(slow.count(), after_delete);

    // The key can be used again, and starts empty.
    let (status, _) = app.call("PUT", "/tenants/doomed", None, None).await;
    assert_eq!(status, 201);
    let page = app.get_json("/events?tenant=doomed").await;
    assert_eq!(page["data"], json!([]));
    assert_eq!(app.call("GET", "/tenants/nope", None, None).await.0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_from_before_tenants_keeps_every_row_in_default_and_delivers_it() {
    let url = fresh_database().await;
    let (mut db, connection) = tokio_postgres::connect(&url, NoTls).await.unwrap();
    tokio::spawn(connection);
    hookrelay::store::migrate::run_to(&mut db, 9).await.unwrap();
    let receiver = Receiver::ok().await;
    // What hookrelay 9 wrote: a webhook, a delivered event, a pending one, an
    // idempotency key, a failed delivery with its attempt log.
    db.execute(
        "INSERT INTO webhooks (id, url, event_types, secret)
         VALUES ('00000000-0000-0000-0000-0000000000a1', $1, '{order.created}', 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw')",
        &[&receiver.url],
    )
    .await
    .unwrap();
    db.batch_execute(
        "INSERT INTO events (id, type, payload) VALUES
           ('00000000-0000-0000-0000-0000000000e1', 'order.created', '{\"n\": 1}'),
           ('00000000-0000-0000-0000-0000000000e2', 'order.created', '{\"n\": 2}'),
           ('00000000-0000-0000-0000-0000000000e3', 'order.created', '{\"n\": 3}');
         INSERT INTO deliveries (id, webhook_id, event_id, status, attempts, completed_at) VALUES
           ('00000000-0000-0000-0000-0000000000d1', '00000000-0000-0000-0000-0000000000a1',
            '00000000-0000-0000-0000-0000000000e1', 'success', 1, now()),
           ('00000000-0000-0000-0000-0000000000d3', '00000000-0000-0000-0000-0000000000a1',
            '00000000-0000-0000-0000-0000000000e3', 'failed', 1, now());
         INSERT INTO deliveries (id, webhook_id, event_id) VALUES
           ('00000000-0000-0000-0000-0000000000d2', '00000000-0000-0000-0000-0000000000a1',
            '00000000-0000-0000-0000-0000000000e2');
         INSERT INTO delivery_attempts (delivery_id, attempt, started_at, status_code) VALUES
           ('00000000-0000-0000-0000-0000000000d3', 1, now(), 500);
         INSERT INTO idempotency_keys (key, event_id) VALUES ('order-1', '00000000-0000-0000-0000-0000000000e1');",
    )
    .await
    .unwrap();
    let before = table_counts(&db).await;

    // hookrelay 10 starts on it: migration 10 runs.
    let app = spawn_app_on(test_config(url)).await;
    assert_eq!(table_counts(&app.db).await, before, "every row is kept");
    for table in ["webhooks", "events", "deliveries", "idempotency_keys"] {
        let other: i64 = app
            .db
            .query_one(
                &format!("SELECT count(*) FROM {table} WHERE tenant <> 'default'"),
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(other, 0, "{table}: every row is the default tenant's");
    }
    // The pending delivery goes out as before, and the old ones read as before.
    let got = receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got[0].json(), json!({"n": 2}));
    assert_eq!(
        got[0].header("webhook-id"),
        "00000000-0000-0000-0000-0000000000d2"
    );
    app.wait_for_status(
        "00000000-0000-0000-0000-0000000000d2",
        "success",
        Duration::from_secs(10),
    )
    .await;
    let old = app.delivery("00000000-0000-0000-0000-0000000000d3").await;
    assert_eq!(
        (old["status"].clone(), old["tenant"].clone()),
        (json!("failed"), json!("default"))
    );
    assert_eq!(old["attempt_log"][0]["status_code"], 500);
    let webhook = app
        .get_json("/webhooks/00000000-0000-0000-0000-0000000000a1")
        .await;
    assert_eq!(webhook["tenant"], "default");
    // The old idempotency key still names its event, in default.
    let repeat = app
        .http
        .post(format!("{}/events", app.address))
        .header("Idempotency-Key", "order-1")
        .json(&json!({"type": "order.created", "payload": {"n": 9}}))
        .send()
        .await
        .unwrap();
    assert_eq!(repeat.status(), 200);
    assert_eq!(
        repeat.json::<Value>().await.unwrap()["id"],
        "00000000-0000-0000-0000-0000000000e1"
    );
    // New events for default still reach the old webhook; a retry of the old failure too.
    app.emit("order.created", json!({"n": 4})).await;
    let (status, _) = app
        .call(
            "POST",
            "/deliveries/00000000-0000-0000-0000-0000000000d3/retry",
            None,
            None,
        )
        .await;
    assert_eq!(status, 202);
    let got = receiver.wait_for(3, Duration::from_secs(10)).await;
    let bodies: BTreeSet<String> = got.iter().map(|r| r.json().to_string()).collect();
    assert_eq!(
        bodies,
        BTreeSet::from([
            json!({"n": 2}).to_string(),
            json!({"n": 3}).to_string(),
            json!({"n": 4}).to_string()
        ])
    );
    // The views read with the new column.
    for view in [
        "queue_overview",
        "stuck_deliveries",
        "recent_failures",
        "webhook_health",
        "tenant_queue",
    ] {
        app.db
            .query(&format!("SELECT * FROM {view}"), &[])
            .await
            .unwrap();
    }
}

async fn table_counts(db: &tokio_postgres::Client) -> Vec<(String, i64)> {
    let mut counts = Vec::new();
    // The pending delivery (d2) may be attempted as soon as hookrelay starts:
    // its attempt is not one of the rows that were there before.
    for table in [
        "webhooks",
        "events",
        "deliveries",
        "delivery_attempts WHERE delivery_id <> '00000000-0000-0000-0000-0000000000d2'",
        "idempotency_keys",
    ] {
        let n: i64 = db
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .unwrap()
            .get(0);
        counts.push((table.to_owned(), n));
    }
    counts
}
