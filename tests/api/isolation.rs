//! Nothing of one tenant reaches another: hookrelay's own notices go to the
//! tenant they concern (and the operator's `default`), never to another, and
//! tenant `default` cannot be acted as with a token or a portal link; the
//! header values earlier attempts copied are masked by the upgrade.

use std::time::Duration;

use serde_json::{json, Value};

use crate::console::{app_with_operator_token, portal_token, Visitor};
use crate::helpers::{
    fresh_database, spawn_app, spawn_app_on, test_config, Receiver, Reply, TestApp,
};

const DEAD_LETTERED: &str = "hookrelay.delivery.dead_lettered";

/// A new database as hookrelay `version` left it: its URL and a connection.
async fn database_at(version: i32) -> (String, tokio_postgres::Client) {
    let url = fresh_database().await;
    let (mut db, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    hookrelay::store::migrate::run_to(&mut db, version)
        .await
        .unwrap();
    (url, db)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tenant_default_gets_no_tokens_and_no_portal_links() {
    let app = spawn_app().await;
    for path in ["/tenants/default/tokens", "/tenants/default/portal"] {
        let r = app.post(path, &json!({"ttl": "1h"})).await;
        assert_eq!(r.status(), 409, "{path}");
        assert_eq!(
            r.headers()["content-type"].to_str().unwrap(),
            "application/problem+json",
            "{path}"
        );
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["status"], 409, "{path}: {body}");
        assert!(
            body["detail"].as_str().unwrap().contains("default"),
            "{path}: {body}"
        );
    }
    assert_eq!(app.count("tenant_tokens").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_portal_sessions_of_default_made_before_end_with_the_upgrade() {
    let (url, db) = database_at(12).await;
    // What an older hookrelay let the operator make: a token and a portal
    // session of default, and the same for acme.
    db.batch_execute(
        "INSERT INTO tenants (key) VALUES ('acme');
         INSERT INTO tenant_tokens (hash, tenant, kind, expires_at) VALUES
           (sha256('d'), 'default', 'api', now() + interval '1 day'),
           (sha256('p'), 'default', 'portal', now() + interval '1 day'),
           (sha256('a'), 'acme', 'api', now() + interval '1 day');
         INSERT INTO console_sessions (id_hash, tenant, token_hash) VALUES
           (sha256('s1'), 'default', sha256('p')),
           (sha256('s2'), 'acme', sha256('a')),
           (sha256('s3'), NULL, NULL);",
    )
    .await
    .unwrap();

    let app = spawn_app_on(test_config(url)).await;
    let left = |table: &'static str| {
        let db = &app.db;
        async move {
            db.query(
                &format!("SELECT tenant FROM {table} ORDER BY tenant NULLS LAST"),
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<_, Option<String>>(0))
            .collect::<Vec<_>>()
        }
    };
    assert_eq!(left("tenant_tokens").await, [Some("acme".to_owned())]);
    assert_eq!(
        left("console_sessions").await,
        [Some("acme".to_owned()), None]
    );
}

/// The events of type `event_type` a caller lists.
async fn listed(app: &TestApp, token: Option<&str>, query: &str) -> Vec<Value> {
    let (status, page) = app
        .call(
            "GET",
            &format!("/events?type={DEAD_LETTERED}{query}"),
            token,
            None,
        )
        .await;
    assert_eq!(status, 200, "{page}");
    page["data"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenants_dead_letter_is_announced_to_it_and_to_default_never_to_another_tenant() {
    let app = app_with_operator_token().await;
    let acme_portal = portal_token(&app, "acme").await;
    let globex_portal = portal_token(&app, "globex").await;
    let acme_token = app.tenant_token("acme", "1h").await;
    let globex_token = app.tenant_token("globex", "1h").await;

    let gone = Receiver::start(|_| Reply::status(410)).await;
    let acme_alerts = Receiver::ok().await;
    let globex_alerts = Receiver::ok().await;
    let operator_alerts = Receiver::ok().await;
    let hook = app
        .create_webhook_for("acme", &gone.url, &["order.created"])
        .await;
    app.create_webhook_for("acme", &acme_alerts.url, &[DEAD_LETTERED])
        .await;
    app.create_webhook_for("globex", &globex_alerts.url, &[DEAD_LETTERED])
        .await;
    app.create_webhook(&operator_alerts.url, &[DEAD_LETTERED])
        .await;
    app.emit_for("acme", "order.created", json!({"n": 1})).await;

    // Acme's own alert endpoint and the operator's each get the notice.
    for alerts in [&acme_alerts, &operator_alerts] {
        let got = alerts.wait_for(1, Duration::from_secs(10)).await;
        let notice = got[0].json();
        assert_eq!(notice["type"], DEAD_LETTERED);
        assert_eq!(notice["tenant"], "acme");
        assert_eq!(notice["webhook_id"], hook["id"]);
    }
    // Globex hears nothing of it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(globex_alerts.count(), 0);
    assert_eq!(acme_alerts.count(), 1);
    assert_eq!(operator_alerts.count(), 1);

    // By token: acme reads its notice, globex none; the operator reads one
    // copy in acme and one in default.
    assert_eq!(listed(&app, Some(&acme_token), "").await.len(), 1);
    assert_eq!(listed(&app, Some(&globex_token), "").await.len(), 0);
    assert_eq!(listed(&app, None, "&tenant=acme").await.len(), 1);
    assert_eq!(listed(&app, None, "&tenant=default").await.len(), 1);
    assert_eq!(listed(&app, None, "&tenant=globex").await.len(), 0);

    // By portal: acme's deliveries show the notice, globex's show nothing of acme.
    let hook_id = hook["id"].as_str().unwrap();
    let mut acme = Visitor::new(&app);
    acme.sign_in("/portal", &acme_portal).await;
    let page = acme.get("/portal/deliveries").await.text().await.unwrap();
    assert!(page.contains(DEAD_LETTERED), "acme's portal: {page}");
    let mut globex = Visitor::new(&app);
    globex.sign_in("/portal", &globex_portal).await;
    for path in ["/portal", "/portal/deliveries", "/portal/dead-letters"] {
        let page = globex.get(path).await.text().await.unwrap();
        assert!(
            !page.contains(DEAD_LETTERED) && !page.contains(hook_id) && !page.contains(&gone.url),
            "globex's {path} shows acme's dead letter: {page}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_values_earlier_attempts_copied_are_masked_by_the_upgrade() {
    let (url, db) = database_at(14).await;
    db.batch_execute(
        "INSERT INTO webhooks (id, url, event_types, secret, headers)
         VALUES ('00000000-0000-0000-0000-0000000000a1', 'http://127.0.0.1:9/', '{a}',
                 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', '{\"Authorization\": \"Bearer s3cr3t\"}');
         INSERT INTO events (id, type, payload) VALUES ('00000000-0000-0000-0000-0000000000e1', 'a', '{}');
         INSERT INTO deliveries (id, webhook_id, event_id, status, attempts, completed_at) VALUES
           ('00000000-0000-0000-0000-0000000000d1', '00000000-0000-0000-0000-0000000000a1',
            '00000000-0000-0000-0000-0000000000e1', 'success', 2, now());
         INSERT INTO delivery_attempts (delivery_id, attempt, started_at, status_code, request_headers) VALUES
           ('00000000-0000-0000-0000-0000000000d1', 1, now(), 500, '{\"Authorization\": \"Bearer s3cr3t\"}'),
           ('00000000-0000-0000-0000-0000000000d1', 2, now(), 200, NULL);",
    )
    .await
    .unwrap();

    let app = spawn_app_on(test_config(url)).await;
    let logged: Vec<Option<Value>> = app
        .db
        .query(
            "SELECT request_headers FROM delivery_attempts ORDER BY attempt",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(logged, [Some(json!({"Authorization": "••••"})), None]);
    // The webhook's own value is kept, for its sends and the one route that shows it.
    assert_eq!(
        app.get_json("/webhooks/00000000-0000-0000-0000-0000000000a1/headers")
            .await["headers"],
        json!({"Authorization": "Bearer s3cr3t"})
    );
}
