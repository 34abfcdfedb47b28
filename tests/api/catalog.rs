//! The event-type catalog: its routes, the schemas POST /events holds payloads
//! to, HOOKRELAY_REQUIRE_EVENT_TYPES, and how fast a change reaches the cache
//! each process keeps of it (at once in the process that made it, by NOTIFY in
//! the others).

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{
    eventually, fresh_database, spawn_app_on, spawn_app_with, test_config, TestApp,
};

/// An order: typed properties, required ones, and an array of objects.
fn order_schema() -> Value {
    json!({
        "type": "object",
        "required": ["order_id", "currency", "items"],
        "properties": {
            "order_id": {"type": "integer"},
            "currency": {"type": "string", "enum": ["EUR", "USD"]},
            "total": {"type": "number"},
            "items": {"type": "array", "items": {
                "type": "object",
                "required": ["sku", "price"],
                "properties": {"sku": {"type": "string"}, "price": {"type": "number"}}
            }}
        }
    })
}

fn order(price: Value) -> Value {
    json!({"order_id": 42, "currency": "EUR", "total": 9.99,
           "items": [{"sku": "tea", "price": price}]})
}

async fn emit_status(app: &TestApp, event_type: &str, payload: Value) -> (u16, Value) {
    let r = app
        .post("/events", &json!({"type": event_type, "payload": payload}))
        .await;
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn put_status(app: &TestApp, event_type: &str, body: Value) -> (u16, Value) {
    let r = app.put(&format!("/event-types/{event_type}"), &body).await;
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

fn detail(body: &Value) -> &str {
    body["detail"].as_str().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalog_is_put_read_listed_newest_first_and_deleted() {
    let app = spawn_app_with(|c| c.workers = 0).await;
    let r = app
        .put(
            "/event-types/order.created",
            &json!({"description": "an order was placed", "schema": order_schema()}),
        )
        .await;
    assert_eq!(r.status(), 201);
    assert_eq!(
        r.headers().get("location").unwrap(),
        "/event-types/order.created"
    );
    let created: Value = r.json().await.unwrap();
    assert_eq!(created["name"], "order.created");
    assert_eq!(created["description"], "an order was placed");
    assert_eq!(created["schema"], order_schema());
    assert_eq!(created["archived"], false);
    assert!(created["created_at"].is_string() && created["updated_at"].is_string());

    // A PUT changes what it names; the rest stays.
    let (status, archived) = put_status(&app, "order.created", json!({"archived": true})).await;
    assert_eq!(status, 200);
    assert_eq!(archived["archived"], true);
    assert_eq!(archived["schema"], order_schema());
    assert_eq!(archived["description"], "an order was placed");
    assert_eq!(archived["created_at"], created["created_at"]);
    let (status, cleared) = put_status(
        &app,
        "order.created",
        json!({"description": null, "schema": null}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(cleared["description"], Value::Null);
    assert_eq!(cleared["schema"], Value::Null);
    assert_eq!(cleared["archived"], true);
    assert_eq!(app.get_json("/event-types/order.created").await, cleared);

    // Unknown names, and names that are not event types, are 404s.
    for missing in [
        "/event-types/order.paid",
        "/event-types/*",
        "/event-types/a%20b",
    ] {
        assert_eq!(app.get(missing).await.status(), 404, "{missing}");
        assert_eq!(app.delete(missing).await.status(), 404, "{missing}");
    }
    for (bad, why) in [("*", "type: "), ("hookrelay.webhook.disabled", "type: ")] {
        let (status, body) = put_status(&app, bad, json!({})).await;
        assert_eq!(status, 422, "{bad}");
        assert!(detail(&body).starts_with(why), "{bad}: {body}");
    }
    let (status, body) = put_status(&app, "a.b", json!({"archived": "yes"})).await;
    assert_eq!(status, 422, "{body}");

    // Newest first, page by page; rows created in one transaction share
    // created_at, and their names keep the pages apart.
    for name in ["p.1", "p.2"] {
        assert_eq!(put_status(&app, name, json!({})).await.0, 201);
    }
    app.db
        .batch_execute("INSERT INTO event_types (name) VALUES ('q.a'), ('q.b'), ('q.c')")
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut path = "/event-types?limit=1".to_owned();
    loop {
        let page = app.get_json(&path).await;
        let data = page["data"].as_array().unwrap();
        assert!(data.len() <= 1);
        seen.extend(data.iter().map(|e| e["name"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/event-types?limit=1&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(
        seen,
        ["q.c", "q.b", "q.a", "p.2", "p.1", "order.created"],
        "newest first, then by name"
    );
    assert_eq!(app.get("/event-types?cursor=garbage").await.status(), 422);

    assert_eq!(app.delete("/event-types/order.created").await.status(), 204);
    assert_eq!(app.get("/event-types/order.created").await.status(), 404);
    assert_eq!(app.delete("/event-types/order.created").await.status(), 404);

    // psql: the table and every column say what they are.
    let undocumented: Vec<String> = app
        .db
        .query(
            "SELECT a.attname::text FROM pg_attribute a
             WHERE a.attrelid = 'event_types'::regclass AND a.attnum > 0 AND NOT a.attisdropped
               AND col_description(a.attrelid, a.attnum) IS NULL",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        undocumented.is_empty(),
        "columns without a COMMENT: {undocumented:?}"
    );
    let table: Option<String> = app
        .db
        .query_one(
            "SELECT obj_description('event_types'::regclass, 'pg_class')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(table.is_some(), "the table has no COMMENT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_that_is_not_a_json_schema_is_refused_naming_schema() {
    let app = spawn_app_with(|c| c.workers = 0).await;
    for bad in [
        json!({"type": "float"}),
        json!({"required": "order_id"}),
        json!({"properties": {"items": {"minItems": -1}}}),
        json!({"pattern": "("}),
        json!(42),
        // Nothing outside the schema is fetched, or readable.
        json!({"$ref": "http://127.0.0.1:9/order.json"}),
        json!({"$ref": "file:///etc/passwd"}),
        // Valid JSON Schema, but PostgreSQL's jsonb cannot hold a NUL.
        json!({"description": "a\u{0}b"}),
    ] {
        let (status, body) = put_status(&app, "order.created", json!({"schema": bad})).await;
        assert_eq!(status, 422, "{bad}: {body}");
        assert!(detail(&body).starts_with("schema: "), "{bad}: {body}");
    }
    assert_eq!(app.get("/event-types/order.created").await.status(), 404);
    assert_eq!(app.count("event_types").await, 0);
    // A boolean is a schema, and so is a reference inside the schema.
    for good in [
        json!(true),
        json!({"$defs": {"cents": {"type": "integer"}}, "properties": {"total": {"$ref": "#/$defs/cents"}}}),
    ] {
        let (status, body) = put_status(&app, "order.created", json!({"schema": good})).await;
        assert!(status == 201 || status == 200, "{good}: {status} {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payload_that_breaks_its_schema_is_refused_with_the_place_and_the_rule() {
    let app = spawn_app_with(|c| c.workers = 0).await;
    app.create_webhook("https://example.com/hooks", &["order.created"])
        .await;
    let (status, _) = put_status(&app, "order.created", json!({"schema": order_schema()})).await;
    assert_eq!(status, 201);

    let (status, body) = emit_status(&app, "order.created", order(json!("cheap"))).await;
    assert_eq!(status, 422, "{body}");
    let d = detail(&body);
    assert!(d.starts_with("payload at /items/0/price: "), "{d}");
    assert!(
        d.contains("not of type \"number\"")
            && d.contains("(rule /properties/items/items/properties/price/type)"),
        "{d}"
    );
    let (status, body) = emit_status(&app, "order.created", json!({"order_id": 1})).await;
    assert_eq!(status, 422, "{body}");
    let d = detail(&body);
    assert!(
        d.starts_with("payload: ") && d.contains("\"currency\"") && d.contains("(rule /required)"),
        "{d}"
    );
    // With an Idempotency-Key too: refused before anything is written.
    let r = app
        .http
        .post(format!("{}/events", app.address))
        .header("Idempotency-Key", "order-42")
        .json(&json!({"type": "order.created", "payload": order(json!(null))}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    for table in ["events", "deliveries", "idempotency_keys"] {
        assert_eq!(app.count(table).await, 0, "{table}: nothing stored");
    }

    let (status, body) = emit_status(&app, "order.created", order(json!(2.5))).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["deliveries"], 1);
    // Other types are not held to it.
    let (status, _) = emit_status(&app, "order.paid", json!("anything")).await;
    assert_eq!(status, 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn types_outside_the_catalog_are_accepted_unless_the_catalog_is_required() {
    let open = spawn_app_with(|c| c.workers = 0).await;
    assert_eq!(emit_status(&open, "not.listed", json!({})).await.0, 201);
    let (status, _) = put_status(&open, "old.type", json!({"archived": true})).await;
    assert_eq!(status, 201);
    assert_eq!(emit_status(&open, "old.type", json!({})).await.0, 201);
    open.create_webhook("https://example.com/a", &["not.listed", "old.type"])
        .await;

    let strict = spawn_app_with(|c| {
        c.workers = 0;
        c.require_event_types = true;
    })
    .await;
    let (status, body) = emit_status(&strict, "not.listed", json!({})).await;
    assert_eq!(status, 422);
    assert!(detail(&body).starts_with("type: "), "{body}");
    assert_eq!(put_status(&strict, "listed", json!({})).await.0, 201);
    assert_eq!(emit_status(&strict, "listed", json!({})).await.0, 201);
    assert_eq!(
        put_status(&strict, "listed", json!({"archived": true}))
            .await
            .0,
        200
    );
    let (status, body) = emit_status(&strict, "listed", json!({})).await;
    assert_eq!(status, 422, "archived: refused at once");
    assert!(
        detail(&body).starts_with("type: ") && detail(&body).contains("archived"),
        "{body}"
    );
    assert_eq!(strict.count("events").await, 1);

    // Subscriptions too: POST and PATCH /webhooks.
    assert_eq!(put_status(&strict, "current", json!({})).await.0, 201);
    for types in [json!(["current", "not.listed"]), json!(["listed"])] {
        let r = strict
            .post(
                "/webhooks",
                &json!({"url": "https://example.com/b", "event_types": types}),
            )
            .await;
        assert_eq!(r.status(), 422, "{types}");
        let body: Value = r.json().await.unwrap();
        assert!(detail(&body).starts_with("event_types: "), "{body}");
    }
    // The wildcard, and hookrelay's own types, are not the catalog's.
    let hook = strict
        .create_webhook(
            "https://example.com/b",
            &["current", "hookrelay.webhook.disabled"],
        )
        .await;
    strict.create_webhook("https://example.com/c", &["*"]).await;
    let path = format!("/webhooks/{}", hook["id"].as_str().unwrap());
    let r = strict
        .patch(&path, &json!({"event_types": ["listed"]}))
        .await;
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.unwrap();
    assert!(detail(&body).starts_with("event_types: "), "{body}");
    let r = strict.patch(&path, &json!({"description": "kept"})).await;
    assert_eq!(
        r.status(),
        200,
        "a PATCH that names no types is not checked"
    );
}

/// The backends LISTENing for catalog changes on the app's database.
async fn catalog_listeners(app: &TestApp) -> Vec<i32> {
    app.db
        .query(
            "SELECT pid FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()
               AND state = 'idle' AND query LIKE '%LISTEN hookrelay_event_types%'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Waits until the app caches what it learns of the catalog, which it does
/// only while its LISTEN connection is up: with announcements off (the trigger
/// dropped), a type added behind its back is not seen once cached. Then has
/// it cache that `event_type` is not in the catalog.
async fn wait_until_cached_as_unlisted(app: &TestApp, event_type: &str) {
    let mut probe = 0;
    let cached = eventually(Duration::from_secs(10), || {
        // A new type each time: a probe's row is never seen by a later one.
        probe += 1;
        let name = format!("probe.{probe}");
        async move {
            assert_eq!(emit_status(app, &name, order(json!("x"))).await.0, 201);
            app.db
                .execute(
                    "INSERT INTO event_types (name, schema) VALUES ($1, $2)",
                    &[&name, &order_schema()],
                )
                .await
                .unwrap();
            emit_status(app, &name, order(json!("x"))).await.0 == 201
        }
    })
    .await;
    assert!(cached, "the app never cached the catalog");
    assert_eq!(emit_status(app, event_type, order(json!("x"))).await.0, 201);
}

async fn drop_announcements(app: &TestApp) {
    app.db
        .batch_execute("DROP TRIGGER event_types_announce ON event_types")
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_applies_in_this_process_as_soon_as_the_put_returns() {
    let app = spawn_app_with(|c| c.workers = 0).await;
    // No NOTIFY at all: only the API telling its own cache can make this pass.
    drop_announcements(&app).await;
    wait_until_cached_as_unlisted(&app, "order.created").await;

    let bad = || order(json!("cheap"));
    assert_eq!(
        put_status(&app, "order.created", json!({"schema": order_schema()}))
            .await
            .0,
        201
    );
    assert_eq!(
        emit_status(&app, "order.created", bad()).await.0,
        422,
        "added"
    );
    assert_eq!(
        put_status(&app, "order.created", json!({"schema": null}))
            .await
            .0,
        200
    );
    assert_eq!(
        emit_status(&app, "order.created", bad()).await.0,
        201,
        "schema cleared"
    );
    assert_eq!(
        put_status(&app, "order.created", json!({"schema": order_schema()}))
            .await
            .0,
        200
    );
    assert_eq!(
        emit_status(&app, "order.created", bad()).await.0,
        422,
        "schema set"
    );
    assert_eq!(app.delete("/event-types/order.created").await.status(), 204);
    assert_eq!(
        emit_status(&app, "order.created", bad()).await.0,
        201,
        "deleted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_made_by_another_process_is_heard_by_notify() {
    let url = fresh_database().await;
    let mut config = test_config(url);
    // The catalog's LISTEN connection is the API's: it runs without workers.
    config.workers = 0;
    let first = spawn_app_on(config.clone()).await;
    let second = spawn_app_on(config).await;
    let both = eventually(Duration::from_secs(10), || async {
        catalog_listeners(&first).await.len() == 2
    })
    .await;
    assert!(both, "both apps listen for catalog changes");

    // The first caches that the type is not in the catalog ...
    let bad = || order(json!("cheap"));
    assert_eq!(emit_status(&first, "order.created", bad()).await.0, 201);
    // ... the second adds it, with a schema ...
    assert_eq!(
        put_status(&second, "order.created", json!({"schema": order_schema()}))
            .await
            .0,
        201
    );
    assert_eq!(emit_status(&second, "order.created", bad()).await.0, 422);
    // ... and the first hears of it.
    let heard = eventually(Duration::from_secs(10), || async {
        emit_status(&first, "order.created", bad()).await.0 == 422
    })
    .await;
    assert!(heard, "the first app still accepts what the schema refuses");
    assert_eq!(
        second.delete("/event-types/order.created").await.status(),
        204
    );
    let heard = eventually(Duration::from_secs(10), || async {
        emit_status(&first, "order.created", bad()).await.0 == 201
    })
    .await;
    assert!(heard, "the first app still holds a deleted schema");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_the_listen_connection_forgets_what_was_cached() {
    let app = spawn_app_with(|c| c.workers = 0).await;
    drop_announcements(&app).await;
    wait_until_cached_as_unlisted(&app, "order.created").await;
    let listeners: BTreeSet<i32> = catalog_listeners(&app).await.into_iter().collect();
    assert_eq!(listeners.len(), 1);
    app.db
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = ANY($1)",
            &[&listeners.iter().copied().collect::<Vec<i32>>()],
        )
        .await
        .unwrap();
    // Changed while announcements were not heard, and never announced.
    app.db
        .execute(
            "INSERT INTO event_types (name, schema) VALUES ('order.created', $1)",
            &[&order_schema()],
        )
        .await
        .unwrap();
    let back = eventually(Duration::from_secs(10), || async {
        let now: BTreeSet<i32> = catalog_listeners(&app).await.into_iter().collect();
        now.len() == 1 && now.is_disjoint(&listeners)
    })
    .await;
    assert!(back, "the catalog's LISTEN connection did not come back");
    // Listening again, it starts from what the database says.
    let (status, body) = emit_status(&app, "order.created", order(json!("cheap"))).await;
    assert_eq!(
        status, 422,
        "what was cached before the connection was lost is still used: {body}"
    );
}
