//! The OpenAPI document: valid 3.1, and exactly the routes that are served.

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

    // Operation ids are unique, and camelCase, so generated clients get usable names.
    let mut ids = BTreeSet::new();
    for (method, path) in &documented {
        let id = doc["paths"][path][method]["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
        assert!(
            id.starts_with(|c: char| c.is_ascii_lowercase())
                && id.chars().all(|c| c.is_ascii_alphanumeric())
                && id.chars().any(|c| c.is_ascii_uppercase()),
            "{method} {path}: {id:?} is not camelCase"
        );
        assert!(ids.insert(id), "operationId {id:?} is not unique");
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
        "Problem",
        "EmitEvent",
        "CreateWebhook",
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
