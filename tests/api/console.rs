//! The console over plain HTTP: sign-in, sessions across processes, the
//! anti-forgery check on every form, the headers every page carries, and
//! what an unknown address answers. What a person sees in a browser is in
//! `browser.rs`.

use std::time::Duration;

use reqwest::redirect::Policy;
use reqwest::{Response, StatusCode};
use serde_json::json;

use crate::helpers::{
    schedule, spawn_app_on, spawn_app_with, test_config, Receiver, Reply, TestApp,
};

pub const OPERATOR_TOKEN: &str = "operator-token-for-tests";

/// A browser as far as the console can tell: cookies kept by hand, redirects not followed.
pub struct Visitor {
    http: reqwest::Client,
    base: String,
    cookies: Vec<(String, String)>,
}

fn value_after<'a>(text: &'a str, marker: &str) -> Option<&'a str> {
    let at = text.find(marker)? + marker.len();
    let rest = &text[at..];
    Some(&rest[..rest.find('"')?])
}

impl Visitor {
    pub fn new(app: &TestApp) -> Visitor {
        Visitor {
            http: reqwest::Client::builder()
                .redirect(Policy::none())
                .build()
                .unwrap(),
            base: app.address.clone(),
            cookies: Vec::new(),
        }
    }

    fn keep_cookies(&mut self, r: &Response) {
        for v in r.headers().get_all("set-cookie") {
            let pair = v.to_str().unwrap().split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            self.cookies.retain(|(n, _)| n != name);
            if !value.is_empty() {
                self.cookies.push((name.to_owned(), value.to_owned()));
            }
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub async fn get(&mut self, path: &str) -> Response {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep_cookies(&r);
        r
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Response {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .form(form)
            .send()
            .await
            .unwrap();
        self.keep_cookies(&r);
        r
    }

    /// The anti-forgery token of the page at `path`.
    pub async fn csrf(&mut self, path: &str) -> String {
        let page = self.get(path).await.text().await.unwrap();
        value_after(&page, "name=\"csrf\" value=\"")
            .expect("the page has a form")
            .to_owned()
    }

    /// Signs in with `token`; returns the answer to the form.
    pub async fn sign_in(&mut self, area: &str, token: &str) -> Response {
        let token_field = self.csrf(&format!("{area}/sign-in")).await;
        self.post(
            &format!("{area}/sign-in"),
            &[("csrf", &token_field), ("token", token)],
        )
        .await
    }
}

/// An app that needs the operator token, whose own API client sends it.
pub async fn app_with_operator_token() -> TestApp {
    operator_app(|c| c.retry_schedule = schedule(&[])).await
}

/// `app_with_operator_token`, with other settings as `configure` makes them.
pub async fn operator_app(configure: impl FnOnce(&mut hookrelay::config::Config)) -> TestApp {
    let mut app = spawn_app_with(|c| {
        c.api_tokens = vec![OPERATOR_TOKEN.to_owned()];
        configure(c);
    })
    .await;
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        "authorization",
        format!("Bearer {OPERATOR_TOKEN}").parse().unwrap(),
    );
    app.http = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap();
    app
}

fn location(r: &Response) -> &str {
    r.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_signs_in_with_an_api_token_and_a_wrong_token_is_refused() {
    let app = app_with_operator_token().await;
    let mut visitor = Visitor::new(&app);

    let r = visitor.get("/console/webhooks").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/console/sign-in");

    let r = visitor.sign_in("/console", "not-the-token").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("does not open this console"));
    assert_eq!(
        visitor.get("/console").await.status(),
        StatusCode::SEE_OTHER
    );

    let r = visitor.sign_in("/console", OPERATOR_TOKEN).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let set_cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("hookrelay_console="))
        .expect("a session cookie");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/console"] {
        assert!(set_cookie.contains(flag), "{flag} in {set_cookie}");
    }
    assert!(
        !set_cookie.contains("Secure"),
        "http public URL: {set_cookie}"
    );
    assert_eq!(
        visitor.get("/console/webhooks").await.status(),
        StatusCode::OK
    );

    // The token itself is never stored, nor the cookie's value.
    let stored: Vec<u8> = app
        .db
        .query_one("SELECT id_hash FROM console_sessions", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored.len(), 32);

    // Signing out ends the session.
    let csrf = visitor.csrf("/console").await;
    let r = visitor.post("/console/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.count("console_sessions").await, 0);
    assert_eq!(
        visitor.get("/console").await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_form_from_another_site_is_refused() {
    let app = app_with_operator_token().await;
    let mut visitor = Visitor::new(&app);
    // No form token (and so no sign-in cookie) of ours: a cross-site post.
    let r = visitor
        .post("/console/sign-in", &[("token", OPERATOR_TOKEN)])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.count("console_sessions").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_form_without_the_sessions_anti_forgery_token_is_refused() {
    let app = app_with_operator_token().await;
    let receiver = Receiver::start(|_| Reply::status(500)).await;
    let webhook = app.create_webhook(&receiver.url, &["a"]).await;
    let webhook_id = webhook["id"].as_str().unwrap().to_owned();
    let event = app.emit("a", json!({})).await;
    let delivery_id = app.deliveries_of(event["id"].as_str().unwrap()).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.wait_for_status(&delivery_id, "failed", Duration::from_secs(10))
        .await;

    app.put("/tenants/acme", &json!({})).await;

    let mut visitor = Visitor::new(&app);
    visitor.sign_in("/console", OPERATOR_TOKEN).await;
    let csrf = visitor.csrf("/console").await;
    let forms: Vec<(String, Vec<(&str, &str)>)> = vec![
        ("/console/tenants/acme/portal".to_owned(), vec![]),
        (
            "/console/webhooks/new".to_owned(),
            vec![("url", "http://127.0.0.1:1/new"), ("event_types", "a")],
        ),
        (format!("/console/webhooks/{webhook_id}/delete"), vec![]),
        (
            "/console/event-types".to_owned(),
            vec![("name", "order.created"), ("schema", "")],
        ),
        (
            "/console/event-types/order.created/archived".to_owned(),
            vec![("archived", "true")],
        ),
        (format!("/console/deliveries/{delivery_id}/retry"), vec![]),
        (
            format!("/console/webhooks/{webhook_id}/retry-failed"),
            vec![],
        ),
        (
            format!("/console/webhooks/{webhook_id}/enabled"),
            vec![("enabled", "false")],
        ),
        (format!("/console/webhooks/{webhook_id}/secret"), vec![]),
        (
            format!("/console/webhooks/{webhook_id}/rotate-secret"),
            vec![],
        ),
        (format!("/console/webhooks/{webhook_id}/test"), vec![]),
        (
            format!("/console/webhooks/{webhook_id}"),
            vec![("url", "http://127.0.0.1:1/x"), ("event_types", "b")],
        ),
        ("/console/sign-out".to_owned(), vec![]),
    ];
    let before = app.get_json(&format!("/webhooks/{webhook_id}")).await;
    let secret_before = app
        .get_json(&format!("/webhooks/{webhook_id}/secret"))
        .await;
    // Another session's token is no better than none.
    let mut other = Visitor::new(&app);
    other.sign_in("/console", OPERATOR_TOKEN).await;
    let others = other.csrf("/console").await;
    assert_ne!(others, csrf);
    for (path, fields) in &forms {
        for forged in [None, Some("forged"), Some(""), Some(others.as_str())] {
            let mut form = fields.clone();
            if let Some(token) = forged {
                form.push(("csrf", token));
            }
            let r = visitor.post(path, &form).await;
            assert_eq!(
                r.status(),
                StatusCode::FORBIDDEN,
                "{path} with csrf {forged:?}"
            );
        }
    }
    // Nothing changed: the delivery is still failed, the webhook and its secret as they were.
    assert_eq!(app.delivery(&delivery_id).await["status"], "failed");
    assert_eq!(
        app.get_json(&format!("/webhooks/{webhook_id}")).await,
        before
    );
    assert_eq!(
        app.get_json(&format!("/webhooks/{webhook_id}/secret"))
            .await,
        secret_before
    );
    let tests: i64 = app
        .db
        .query_one(
            "SELECT count(*) FROM events WHERE type = 'hookrelay.test'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(tests, 0, "no test event was sent");
    assert_eq!(
        app.count("tenant_tokens").await,
        0,
        "no portal link was made"
    );
    assert_eq!(app.count("webhooks").await, 1, "no webhook made or deleted");
    assert_eq!(app.count("event_types").await, 0, "the catalog unchanged");
    assert_eq!(
        app.count("console_sessions").await,
        2,
        "both still signed in"
    );

    let r = visitor
        .post(
            &format!("/console/deliveries/{delivery_id}/retry"),
            &[("csrf", &others)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // The session's own token goes through.
    let r = visitor
        .post(
            &format!("/console/deliveries/{delivery_id}/retry"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&r),
        format!("/console/deliveries/{delivery_id}?done=retried")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_holds_in_every_process_and_ends_with_its_token() {
    let first = app_with_operator_token().await;
    let mut visitor = Visitor::new(&first);
    visitor.sign_in("/console", OPERATOR_TOKEN).await;

    // A second process on the same database, same tokens: the same session.
    let mut config = test_config(first.database_url.clone());
    config.api_tokens = vec![OPERATOR_TOKEN.to_owned(), "another".to_owned()];
    config.workers = 0;
    let second = spawn_app_on(config.clone()).await;
    visitor.base = second.address.clone();
    assert_eq!(
        visitor.get("/console/deliveries").await.status(),
        StatusCode::OK
    );

    // A process whose tokens no longer include the one it was opened with: signed out.
    config.api_tokens = vec!["another".to_owned()];
    let third = spawn_app_on(config).await;
    visitor.base = third.address.clone();
    let r = visitor.get("/console/deliveries").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/console/sign-in");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_idle_for_twelve_hours_is_over() {
    let app = app_with_operator_token().await;
    let mut visitor = Visitor::new(&app);
    visitor.sign_in("/console", OPERATOR_TOKEN).await;
    assert_eq!(visitor.get("/console").await.status(), StatusCode::OK);
    app.db
        .execute(
            "UPDATE console_sessions SET last_seen_at = now() - interval '12 hours 1 minute'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        visitor.get("/console").await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_api_tokens_on_loopback_the_console_needs_no_sign_in() {
    let app = spawn_app_with(|c| c.workers = 0).await;
    let mut visitor = Visitor::new(&app);
    let r = visitor.get("/console").await;
    assert_eq!(r.status(), StatusCode::OK);
    // Its forms are protected all the same.
    let r = visitor.post("/console/sign-out", &[]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = visitor.get("/console/sign-in").await;
    assert_eq!(location(&r), "/console");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_forbids_inline_script_and_framing_and_caching() {
    let app = app_with_operator_token().await;
    let mut visitor = Visitor::new(&app);
    let signed_out = visitor.get("/console/sign-in").await;
    visitor.sign_in("/console", OPERATOR_TOKEN).await;
    let mut answers = vec![signed_out];
    for path in [
        "/console",
        "/console/webhooks",
        "/console/deliveries",
        "/console/dead-letters",
        "/console/deliveries/not-an-id",
        "/console/no-such-page",
    ] {
        answers.push(visitor.get(path).await);
    }
    for r in answers {
        let url = r.url().to_string();
        let csp = r
            .headers()
            .get("content-security-policy")
            .unwrap_or_else(|| panic!("{url} has no CSP"))
            .to_str()
            .unwrap()
            .to_owned();
        assert!(csp.contains("script-src 'self'"), "{url}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{url}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{url}: {csp}");
        assert_eq!(r.headers()["x-frame-options"], "DENY", "{url}");
        assert_eq!(r.headers()["cache-control"], "no-store", "{url}");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff", "{url}");
        let html = r.text().await.unwrap();
        // No inline script: the only script is a file of ours.
        assert!(!html.contains("<script>"), "{url} has an inline script");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_ids_are_404_and_assets_are_cached_by_content() {
    let app = app_with_operator_token().await;
    let mut visitor = Visitor::new(&app);
    visitor.sign_in("/console", OPERATOR_TOKEN).await;
    let unknown = uuid::Uuid::new_v4();
    for path in [
        format!("/console/webhooks/{unknown}"),
        format!("/console/deliveries/{unknown}"),
        "/console/webhooks/not-a-uuid".to_owned(),
        "/console/deliveries/1%20OR%201=1".to_owned(),
    ] {
        let r = visitor.get(&path).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
    }
    let csrf = visitor.csrf("/console").await;
    let r = visitor
        .post(
            &format!("/console/deliveries/{unknown}/retry"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    let page = visitor.get("/console").await.text().await.unwrap();
    let css = value_after(&page, "rel=\"stylesheet\" href=\"")
        .unwrap()
        .to_owned();
    assert!(
        css.starts_with("/assets/console-") && css.ends_with(".css"),
        "{css}"
    );
    let r = visitor.get(&css).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("immutable"));
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    let again = visitor
        .http
        .get(format!("{}{css}", app.address))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(
        visitor.get("/assets/console-0000.css").await.status(),
        StatusCode::NOT_FOUND
    );
}

/// A portal link for `tenant` (created first), as the operator hands it out.
pub async fn portal_token(app: &TestApp, tenant: &str) -> String {
    app.put(&format!("/tenants/{tenant}"), &json!({})).await;
    let r = app
        .post(&format!("/tenants/{tenant}/portal"), &json!({}))
        .await;
    assert_eq!(r.status(), 201);
    let body: serde_json::Value = r.json().await.unwrap();
    body["token"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_portal_session_ends_when_its_tenants_tokens_are_revoked() {
    let app = app_with_operator_token().await;
    let token = portal_token(&app, "acme").await;
    let mut visitor = Visitor::new(&app);
    // An operator token does not open a portal, nor a tenant token the console.
    let r = visitor.sign_in("/portal", OPERATOR_TOKEN).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = visitor.sign_in("/console", &token).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    let r = visitor.sign_in("/portal", &token).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/portal");
    assert_eq!(
        visitor.get("/portal/deliveries").await.status(),
        StatusCode::OK
    );
    // The portal session is no console session.
    assert_eq!(
        visitor.get("/console").await.status(),
        StatusCode::SEE_OTHER
    );

    let r = app.delete("/tenants/acme/tokens").await;
    assert!(r.status().is_success(), "{}", r.status());
    let r = visitor.get("/portal/deliveries").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/portal/sign-in");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_portal_may_be_framed_by_the_sites_configured_and_the_console_never() {
    let mut app = spawn_app_with(|c| {
        c.api_tokens = vec![OPERATOR_TOKEN.to_owned()];
        c.portal_frame_ancestors = "https://app.example.com".to_owned();
    })
    .await;
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        "authorization",
        format!("Bearer {OPERATOR_TOKEN}").parse().unwrap(),
    );
    app.http = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap();
    let token = portal_token(&app, "acme").await;
    let mut visitor = Visitor::new(&app);
    visitor.sign_in("/portal", &token).await;
    let r = visitor.get("/portal").await;
    assert_eq!(r.status(), StatusCode::OK);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("frame-ancestors https://app.example.com"),
        "{csp}"
    );
    assert!(r.headers().get("x-frame-options").is_none());
    let r = visitor.get("/console/sign-in").await;
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_portal_wears_the_operators_name_and_colour_and_the_console_its_own() {
    let app = operator_app(|c| {
        c.portal_title = Some("Acme Webhooks".to_owned());
        c.portal_accent = Some("#0a7d33".to_owned());
    })
    .await;
    let token = portal_token(&app, "cus_1").await;
    let mut visitor = Visitor::new(&app);
    visitor.sign_in("/portal", &token).await;
    let page = visitor.get("/portal").await.text().await.unwrap();
    assert!(
        page.contains("<title>Overview · Acme Webhooks</title>"),
        "{page}"
    );
    assert!(page.contains("href=\"/portal/brand.css\""), "{page}");
    let css = visitor.get("/portal/brand.css").await.text().await.unwrap();
    assert!(css.contains("--accent: #0a7d33;"), "{css}");
    // The sign-in page a customer sees first wears it too.
    let sign_in = Visitor::new(&app)
        .get("/portal/sign-in")
        .await
        .text()
        .await
        .unwrap();
    assert!(sign_in.contains("Acme Webhooks"), "{sign_in}");
    // The operator's console stays hookrelay's.
    let mut operator = Visitor::new(&app);
    operator.sign_in("/console", OPERATOR_TOKEN).await;
    let console = operator.get("/console").await.text().await.unwrap();
    assert!(!console.contains("Acme Webhooks") && !console.contains("brand.css"));
}
