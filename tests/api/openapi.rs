//! The OpenAPI document: valid 3.1, exactly the routes that are served, and
//! shaped so that client generators make readable code of it.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::helpers::spawn_app_with;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_is_3_1_and_matches_the_served_routes() {
    let app = spawn_app_with(|c| c.workers = 0).await;
    let doc = app.get_json("/openapi.json").await;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    assert_eq!(doc["info"]["title"], "hookrelay");

    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.clone(), path.clone()))
        })
        .collect();
    // ROUTES lists the routes behind the token; the two health routes are open.
    let served: BTreeSet<(String, String)> = hookrelay::api::ROUTES
        .iter()
        .chain(&[("get", "/healthz"), ("get", "/readyz")])
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(documented, served, "documented and served routes differ");

    // The health routes need no token; every other route takes the document's bearer scheme.
    assert_eq!(doc["security"], json!([{"bearer": []}]));
    for (method, path) in &documented {
        let security = &doc["paths"][path][method]["security"];
        if path == "/healthz" || path == "/readyz" {
            assert_eq!(security, &json!([{}]), "{method} {path}");
        } else {
            assert!(security.is_null(), "{method} {path}: {security}");
        }
    }

    // Operation ids are unique, and snake_case, so generated clients get
    // natural method names (`list_deliveries`, `create_webhook`) in Python as
    // they are, and in camelCase languages once their generator converts them.
    let mut ids = BTreeSet::new();
    for (method, path) in &documented {
        let id = doc["paths"][path][method]["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
        assert!(
            id.starts_with(|c: char| c.is_ascii_lowercase())
                && id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                && !id.contains("__")
                && !id.ends_with('_'),
            "{method} {path}: {id:?} is not snake_case"
        );
        assert!(ids.insert(id), "operationId {id:?} is not unique");
    }
    for natural in [
        "list_deliveries",
        "create_webhook",
        "emit_event",
        "retry_delivery",
    ] {
        assert!(ids.contains(natural), "no operation {natural}: {ids:?}");
    }

    // Every operation names its responses, and every error is problem+json.
    for (method, path) in &documented {
        let op = &doc["paths"][path][method];
        let responses = op["responses"].as_object().unwrap();
        assert!(
            !responses.is_empty(),
            "{method} {path} documents no response"
        );
        for (status, r) in responses {
            if status.starts_with('4') || status.starts_with('5') {
                assert!(
                    r["content"]["application/problem+json"].is_object(),
                    "{method} {path} {status}"
                );
            }
        }
    }
    // Schemas referenced are defined.
    let text = doc.to_string();
    for name in [
        "Webhook",
        "Event",
        "Delivery",
        "Attempt",
        "Tenant",
        "EventType",
        "Problem",
        "EmitEvent",
        "CreateWebhook",
        "DeliveryPage",
    ] {
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "schema {name} missing"
        );
    }
    assert!(!text.contains("\"$ref\":\"#/components/schemas/Paginated\""));

    // Every documented route answers on the running server, never the router's 404.
    let id = uuid::Uuid::new_v4().to_string();
    for (method, path) in &documented {
        let url = format!("{}{}", app.address, path.replace("{id}", &id));
        let r = app
            .http
            .request(method.to_uppercase().parse().unwrap(), url)
            .header("Content-Type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        assert!(status < 500, "{method} {path}: {status}");
        let detail = body["detail"].as_str().unwrap_or("");
        assert!(
            !detail.starts_with("no route"),
            "{method} {path} is documented but not served"
        );
    }
}

/// `openapi-spec-validator` (PyPI), the reference validator, accepts the served
/// document. `.ci/run` installs it and sets `CI`, so CI never skips this; on a
/// machine without it, the check is skipped with a note.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_served_openapi_document_passes_openapi_spec_validator() {
    let app = spawn_app_with(|c| c.workers = 0).await;
    let text = app.get("/openapi.json").await.text().await.unwrap();
    let file = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("openapi.json");
    std::fs::write(&file, text).unwrap();
    let run = std::process::Command::new("openapi-spec-validator")
        .arg(&file)
        .output();
    let out = match run {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && std::env::var_os("CI").is_none() => {
            eprintln!("openapi-spec-validator is not installed (pip install openapi-spec-validator): not checked");
            return;
        }
        Err(e) => {
            panic!("cannot run openapi-spec-validator (pip install openapi-spec-validator): {e}")
        }
    };
    assert!(
        out.status.success(),
        "openapi-spec-validator refuses {}:\n{}{}",
        file.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// String properties and parameters, by name, whose values are a closed set:
/// wherever one appears it must be an `enum`, so a generated client has a
/// type for it (`DeliveryStatus`), not a bare string. `disabled_reason` is
/// not here: it is free text that says why.
const CLOSED_SETS: &[&str] = &["status", "waiting_for"];

/// The only fields of an answer left out when they have no value (a
/// pending delivery's `behind` and `paused_until`); every other is served,
/// null or not, and so is `required`.
const SERVED_ONLY_WHEN_SET: &[&str] = &["behind", "paused_until"];

/// Follows a `$ref` to the component it names.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => component(doc, r),
        None => schema,
    }
}

/// The component a `$ref` names.
fn component<'a>(doc: &'a Value, r: &str) -> &'a Value {
    let name = r
        .strip_prefix("#/components/schemas/")
        .unwrap_or_else(|| panic!("a $ref outside the components: {r}"));
    let target = &doc["components"]["schemas"][name];
    assert!(target.is_object(), "$ref {r} names no schema");
    resolve(doc, target)
}

/// What a schema may be, nulls left out: itself, or each of its oneOf/anyOf.
fn alternatives<'a>(doc: &'a Value, schema: &'a Value) -> Vec<&'a Value> {
    let schema = resolve(doc, schema);
    for key in ["oneOf", "anyOf"] {
        if let Some(options) = schema[key].as_array() {
            return options.iter().flat_map(|o| alternatives(doc, o)).collect();
        }
    }
    if schema["type"] == "null" {
        return Vec::new();
    }
    vec![schema]
}

fn has_type(schema: &Value, wanted: &str) -> bool {
    schema["type"] == wanted
        || schema["type"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t == wanted))
}

/// Every schema the document holds where a generator meets it: (where, schema,
/// whether it is a component of its own).
fn schema_roots(doc: &Value) -> Vec<(String, &Value, bool)> {
    let mut roots = Vec::new();
    for (name, schema) in doc["components"]["schemas"].as_object().unwrap() {
        roots.push((format!("#/components/schemas/{name}"), schema, true));
    }
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let at = format!("{method} {path}");
            for p in op["parameters"].as_array().into_iter().flatten() {
                roots.push((format!("{at} parameter {}", p["name"]), &p["schema"], false));
            }
            for (ct, c) in op["requestBody"]["content"]
                .as_object()
                .into_iter()
                .flatten()
            {
                roots.push((format!("{at} request {ct}"), &c["schema"], false));
            }
            for (status, r) in op["responses"].as_object().unwrap() {
                for (ct, c) in r["content"].as_object().into_iter().flatten() {
                    roots.push((format!("{at} {status} {ct}"), &c["schema"], false));
                }
            }
        }
    }
    roots
}

/// Objects spelled out where they are used, not named in the components:
/// each becomes a class with a made-up name (`PaginatedDeliveryDataItem`,
/// `CreateWebhookHeadersType0`). A component's own `allOf` parts are merged
/// into it by generators, so they may be inline.
fn inline_objects(at: &str, schema: &Value, own: bool, found: &mut Vec<String>) {
    let is_object = has_type(schema, "object")
        || schema.get("properties").is_some()
        || schema["additionalProperties"].is_object();
    if is_object && !own {
        found.push(at.to_owned());
    }
    for (name, p) in schema["properties"].as_object().into_iter().flatten() {
        inline_objects(&format!("{at}/properties/{name}"), p, false, found);
    }
    for key in ["items", "additionalProperties"] {
        if schema[key].is_object() {
            inline_objects(&format!("{at}/{key}"), &schema[key], false, found);
        }
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        for (i, s) in schema[key].as_array().into_iter().flatten().enumerate() {
            inline_objects(&format!("{at}/{key}/{i}"), s, own && key == "allOf", found);
        }
    }
}

/// Every named value, at any depth: (where, name, schema) for each property of
/// each schema, and each parameter.
fn named_values(doc: &Value) -> Vec<(String, String, &Value)> {
    fn walk<'a>(at: &str, schema: &'a Value, out: &mut Vec<(String, String, &'a Value)>) {
        for (name, p) in schema["properties"].as_object().into_iter().flatten() {
            let here = format!("{at}/properties/{name}");
            out.push((here.clone(), name.clone(), p));
            walk(&here, p, out);
        }
        for key in ["items", "additionalProperties"] {
            if schema[key].is_object() {
                walk(&format!("{at}/{key}"), &schema[key], out);
            }
        }
        for key in ["oneOf", "anyOf", "allOf"] {
            for (i, s) in schema[key].as_array().into_iter().flatten().enumerate() {
                walk(&format!("{at}/{key}/{i}"), s, out);
            }
        }
    }
    let mut out = Vec::new();
    for (at, schema, _) in schema_roots(doc) {
        walk(&at, schema, &mut out);
    }
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            for p in op["parameters"].as_array().into_iter().flatten() {
                let name = p["name"].as_str().unwrap().to_owned();
                out.push((format!("{method} {path} ?{name}"), name, &p["schema"]));
            }
        }
    }
    out
}

/// What `issues show 24` asks of the document for client generators, walked
/// over the whole served document: every object a named schema, each list's
/// page referring to its item by `$ref`, an enum for every closed set of
/// strings, UUID and date-time formats on ids and times (query and path
/// included), `servers`; and the answers served are the shapes it names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_gives_generators_named_schemas_enums_and_formats() {
    let app = spawn_app_with(|c| c.workers = 0).await;
    let doc = app.get_json("/openapi.json").await;

    // A client made from the served document points at the server that served it.
    assert_eq!(
        doc["servers"][0]["url"],
        app.address.as_str(),
        "{}",
        doc["servers"]
    );

    // Objects are named components, wherever they are used.
    let mut inline = Vec::new();
    for (at, schema, own) in schema_roots(&doc) {
        inline_objects(&at, schema, own, &mut inline);
    }
    assert!(
        inline.is_empty(),
        "objects spelled out inline, not named: {inline:#?}"
    );

    // Each list answers a page schema of its own whose items are a $ref.
    let mut pages = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap();
            if !id.starts_with("list_") {
                continue;
            }
            let answer = &op["responses"]["200"]["content"]["application/json"]["schema"];
            let page = answer["$ref"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path}: its page is not a $ref: {answer}"));
            pages.insert((id.to_owned(), path.clone(), page.to_owned()));
        }
    }
    assert_eq!(pages.len(), 6, "{pages:#?}");
    for (name, schema) in doc["components"]["schemas"].as_object().unwrap() {
        let data = &schema["properties"]["data"];
        if has_type(data, "array") {
            assert!(
                data["items"]["$ref"].is_string(),
                "{name} repeats its item inline instead of a $ref: {}",
                data["items"]
            );
        }
    }
    for (id, _, page) in &pages {
        let page = component(&doc, page);
        assert!(
            page["properties"]["data"]["items"]["$ref"].is_string(),
            "{id}: {page}"
        );
    }

    // Closed sets are enums; ids are UUIDs; times are RFC 3339.
    for (at, name, schema) in named_values(&doc) {
        let strings: Vec<&Value> = alternatives(&doc, schema)
            .into_iter()
            .filter(|s| has_type(s, "string"))
            .collect();
        for s in strings {
            if CLOSED_SETS.contains(&name.as_str()) {
                assert!(
                    s["enum"].is_array(),
                    "{at}: a closed set without an enum: {s}"
                );
            }
            if name == "id" || name.ends_with("_id") || name == "behind" {
                assert_eq!(s["format"], "uuid", "{at}");
            }
            if name.ends_with("_at")
                || ["created_after", "created_before", "since"].contains(&name.as_str())
            {
                assert_eq!(s["format"], "date-time", "{at}");
            }
        }
    }
    for name in ["DeliveryStatus", "WaitingFor"] {
        assert!(
            doc["components"]["schemas"][name]["enum"].is_array(),
            "{name}"
        );
    }

    // What the lists answer is what their pages say: every key documented,
    // every required key there.
    let webhook = app
        .create_webhook("https://example.com/hooks", &["order.created"])
        .await;
    let event = app.emit("order.created", json!({"n": 1})).await;
    assert_eq!(
        app.put("/tenants/acme", &json!({"metadata": {"plan": "pro"}}))
            .await
            .status(),
        201
    );
    assert_eq!(
        app.put("/event-types/order.created", &json!({"description": "d"}))
            .await
            .status(),
        201
    );
    let event_id = event["id"].as_str().unwrap();
    let webhook_id = webhook["id"].as_str().unwrap();
    for (id, path, page) in &pages {
        let served = app.get_json(&path.replace("{id}", event_id)).await;
        let page = component(&doc, page);
        let documented: BTreeSet<&String> =
            page["properties"].as_object().unwrap().keys().collect();
        let keys: BTreeSet<&String> = served.as_object().unwrap().keys().collect();
        assert_eq!(keys, documented, "{id}");
        let items = served["data"].as_array().unwrap();
        assert!(!items.is_empty(), "{id}: nothing to hold to its schema");
        let item = resolve(&doc, &page["properties"]["data"]["items"]);
        for served_item in items {
            let object = served_item.as_object().unwrap();
            for key in object.keys() {
                assert!(
                    item["properties"][key].is_object(),
                    "{id}: {key} is served, not documented"
                );
                // A field always served (null or not) is required, so a
                // generated model says `str | None`, not `str | None | Unset`.
                assert!(
                    SERVED_ONLY_WHEN_SET.contains(&key.as_str())
                        || item["required"]
                            .as_array()
                            .is_some_and(|r| r.iter().any(|r| r == key)),
                    "{id}: {key} is always served, but not required"
                );
            }
            for key in item["required"].as_array().into_iter().flatten() {
                assert!(
                    object.contains_key(key.as_str().unwrap()),
                    "{id}: required {key} is not served"
                );
            }
        }
    }
    assert!(!webhook_id.is_empty());
}
