//! The console in a real browser: headless Chromium driven over WebDriver
//! (Debian's `chromium` and `chromium-driver`; `.ci/run` installs them). Each
//! test starts its own chromedriver on a free port and stops it, and the
//! browser with it, when done. Without Chromium the tests are skipped with a
//! note, except under CI, where a missing browser fails them.
//!
//! With HOOKRELAY_SCREENSHOTS=1 the tests also write the screenshots shown in
//! the README into docs/screenshots/.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};

use crate::console::{app_with_operator_token, OPERATOR_TOKEN};
use crate::helpers::{closed_port, eventually, Receiver, Reply, TestApp};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

pub struct Browser {
    /// Taken by `close`, which needs the only handle.
    client: Option<Client>,
    driver: Child,
}

impl Browser {
    /// A fresh browser, or `None` (skip) when Chromium is not installed and
    /// `CI` is unset.
    pub async fn start() -> Option<Browser> {
        let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
            .into_iter()
            .filter(|p| !std::path::Path::new(p).exists())
            .collect();
        if !missing.is_empty() {
            let what = format!(
                "{} missing (apt-get install chromium chromium-driver)",
                missing.join(" and ")
            );
            assert!(
                std::env::var_os("CI").is_none(),
                "the browser tests need Chromium: {what}"
            );
            eprintln!("browser test skipped: {what}");
            return None;
        }
        let port = closed_port();
        // Its own process group, so the browsers it starts are stopped with it.
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start chromedriver");
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let up = eventually(Duration::from_secs(20), || async {
            http.get(format!("{url}/status"))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
        })
        .await;
        let client = connect(&url, up).await;
        client
            .set_window_size(1280, 1000)
            .await
            .expect("size the window");
        Some(Browser {
            client: Some(client),
            driver,
        })
    }

    pub fn client(&self) -> &Client {
        self.client.as_ref().expect("the browser is open")
    }

    pub async fn goto(&self, url: &str) {
        self.client().goto(url).await.expect("navigate");
    }

    pub async fn path(&self) -> String {
        let url = self.client().current_url().await.expect("current url");
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        }
    }

    /// The visible text of the page's main content.
    pub async fn text(&self) -> String {
        self.client()
            .find(Locator::Css("main"))
            .await
            .expect("the page has a main")
            .text()
            .await
            .expect("text")
    }

    /// The main text, or "" while a page is still coming in.
    async fn text_now(&self) -> String {
        match self.client().find(Locator::Css("main")).await {
            Ok(main) => main.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    pub async fn fill(&self, css: &str, value: &str) {
        let field = self.client().find(Locator::Css(css)).await.expect(css);
        field.clear().await.expect("clear");
        field.send_keys(value).await.expect("type");
    }

    pub async fn click(&self, css: &str) {
        self.client()
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("find {css}: {e}"))
            .click()
            .await
            .expect("click");
    }

    /// Waits (at most 10 s) until `done` holds of the page's address and
    /// text: a click's navigation may still be under way when it returns.
    pub async fn wait_until(&self, what: &str, done: impl Fn(&str, &str) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let path = self.path().await;
            let text = self.text_now().await;
            if done(&path, &text) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the page did not show {what} within 10 s; at {path} it shows:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Reloads until `check` holds for the page's text, or fails after `within`.
    pub async fn reload_until(&self, what: &str, within: Duration, check: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + within;
        loop {
            let text = self.text_now().await;
            if check(&text) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the page did not show {what} within {within:?}; it shows:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
            self.client().refresh().await.expect("reload");
        }
    }

    pub async fn eval(&self, script: &str) -> Value {
        self.client()
            .execute(script, vec![])
            .await
            .expect("run a script")
    }

    /// With HOOKRELAY_SCREENSHOTS=1, the page as it is now, into docs/screenshots/<name>.png.
    pub async fn screenshot(&self, name: &str) {
        self.screenshot_at(name, 1280, 1000).await;
    }

    /// `screenshot` in a window `width` wide, which is `width` × `height`
    /// again afterwards.
    pub async fn screenshot_at(&self, name: &str, width: u32, height_after: u32) {
        if std::env::var_os("HOOKRELAY_SCREENSHOTS").is_none() {
            return;
        }
        // The whole page, up to a tall laptop screen's worth.
        let height = self
            .eval("return document.documentElement.scrollHeight")
            .await
            .as_u64()
            .unwrap_or(1000)
            .clamp(600, 1600) as u32;
        self.client()
            .set_window_size(width, height)
            .await
            .expect("size the window");
        let png = self.client().screenshot().await.expect("screenshot");
        self.client()
            .set_window_size(width, height_after)
            .await
            .expect("size the window");
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
        std::fs::create_dir_all(&dir).expect("create docs/screenshots");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("write the screenshot");
    }

    pub async fn close(mut self) {
        if let Some(client) = self.client.take() {
            let _ = client.close().await;
        }
        self.stop();
    }

    fn stop(&mut self) {
        // The group holds chromedriver and every browser process it started.
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &format!("-{}", self.driver.id())])
            .status();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if self.driver.try_wait().ok().flatten().is_none() {
            self.stop();
        }
    }
}

async fn connect(url: &str, up: bool) -> Client {
    assert!(up, "chromedriver did not answer at {url}");
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".to_owned(),
        json!({
            "binary": CHROMIUM,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--hide-scrollbars", "--force-device-scale-factor=1", "--lang=en-US",
                     "--disable-crash-reporter", "--disable-breakpad"],
        }),
    );
    // chromedriver is on loopback: plain HTTP, no TLS stack to build.
    ClientBuilder::new(HttpConnector::new())
        .capabilities(caps)
        .connect(url)
        .await
        .expect("open a browser session")
}

/// Signs in through the form, as a person would.
async fn sign_in(b: &Browser, app: &TestApp, token: &str) {
    b.goto(&format!("{}/console", app.address)).await;
    assert_eq!(
        b.path().await,
        "/console/sign-in",
        "signed out, the console asks for a token"
    );
    b.fill("#token", token).await;
    b.click("form#fragment-sign-in button[type=submit]").await;
    b.wait_until("the answer to the sign-in", |path, text| {
        path != "/console/sign-in" || text.contains("does not open this console")
    })
    .await;
}

fn screenshots() -> bool {
    std::env::var_os("HOOKRELAY_SCREENSHOTS").is_some()
}

/// For the screenshots only: an hour of past deliveries to these webhooks,
/// most of them delivered, so the overview's chart has something to show.
async fn an_hour_of_traffic(app: &TestApp, webhooks: &[&str]) {
    for (i, webhook) in webhooks.iter().enumerate() {
        app.db
            .execute(
                "WITH e AS (
                     INSERT INTO events (id, tenant, type, payload, created_at)
                     SELECT uuid_v7(), (SELECT tenant FROM webhooks WHERE id = $1::text::uuid),
                            'order.created', jsonb_build_object('n', n),
                            now() - (n % 58 + 1) * interval '1 minute' - (n % 7) * interval '1 second'
                     FROM generate_series(1, 60 + 30 * $2::int) n
                     CROSS JOIN generate_series(1, 1 + (n % 5)) r
                     RETURNING id, created_at)
                 INSERT INTO deliveries (id, tenant, webhook_id, event_id, status, attempts,
                                         last_status_code, created_at, updated_at, completed_at)
                 SELECT uuid_v7(), (SELECT tenant FROM webhooks WHERE id = $1::text::uuid),
                        $1::text::uuid, e.id,
                        CASE WHEN $2 = 0 AND random() < 0.06 THEN 'failed' ELSE 'success' END,
                        1, 200, e.created_at, e.created_at, e.created_at + interval '40 ms'
                 FROM e",
                &[webhook, &(i as i32)],
            )
            .await
            .expect("insert an hour of traffic");
    }
}

async fn failed_delivery(app: &TestApp, event_type: &str, payload: Value) -> String {
    let event = app.emit(event_type, payload).await;
    let id = app.deliveries_of(event["id"].as_str().unwrap()).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.wait_for_status(&id, "failed", Duration::from_secs(10))
        .await;
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_signs_in_sees_the_500_and_its_body_and_a_retry_succeeds() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let app = app_with_operator_token().await;
    let healthy = Arc::new(AtomicBool::new(false));
    let receiver = {
        let healthy = healthy.clone();
        Receiver::start(move |_| {
            if healthy.load(Ordering::SeqCst) {
                Reply::status(204)
            } else {
                Reply::status(500).body("upstream database is down (pool exhausted)")
            }
        })
        .await
    };
    let webhook = app.create_webhook(&receiver.url, &["order.created"]).await;
    let webhook_id = webhook["id"].as_str().unwrap().to_owned();
    for n in 0..3 {
        failed_delivery(
            &app,
            "order.created",
            json!({"order_id": n, "total": "9.99"}),
        )
        .await;
    }
    let id = failed_delivery(
        &app,
        "order.created",
        json!({"order_id": 42, "total": "19.99"}),
    )
    .await;

    if screenshots() {
        let healthy_one = app
            .create_webhook("https://billing.example.com/hooks", &["order.created"])
            .await;
        an_hour_of_traffic(&app, &[&webhook_id, healthy_one["id"].as_str().unwrap()]).await;
    }

    // A wrong token does not sign in.
    sign_in(&b, &app, "wrong-token").await;
    assert_eq!(b.path().await, "/console/sign-in");
    assert!(b
        .text()
        .await
        .contains("That token does not open this console"));
    b.goto(&format!("{}/console/deliveries", app.address)).await;
    assert_eq!(b.path().await, "/console/sign-in");

    sign_in(&b, &app, OPERATOR_TOKEN).await;
    assert_eq!(b.path().await, "/console");
    let overview = b.text().await;
    assert!(
        overview.contains("Overview") && overview.contains("Failing most"),
        "{overview}"
    );
    assert!(
        overview.contains(&receiver.url),
        "the failing webhook is listed: {overview}"
    );
    b.screenshot("overview").await;

    // The dead letter, found from the list of failed deliveries.
    b.goto(&format!("{}/console/deliveries?status=failed", app.address))
        .await;
    b.click(&format!("a[href='/console/deliveries/{id}']"))
        .await;
    let delivery_page = format!("/console/deliveries/{id}");
    b.wait_until("the delivery's page", |path, _| path == delivery_page)
        .await;
    let page = b.text().await;
    assert!(page.contains("HTTP 500"), "{page}");
    assert!(
        page.contains("upstream database is down (pool exhausted)"),
        "{page}"
    );
    // The payload as it was sent: the client's bytes (serde's compact JSON here).
    assert!(
        page.contains(r#"{"order_id":42,"total":"19.99"}"#),
        "{page}"
    );
    assert!(page.contains(&format!("X-Delivery-ID: {id}")), "{page}");
    b.screenshot("failed-delivery").await;

    // The receiver recovers; retry from the page, which then shows the success.
    healthy.store(true, Ordering::SeqCst);
    b.click("form[action$='/retry'] button").await;
    let retried = format!("/console/deliveries/{id}?done=retried");
    b.wait_until("the retry's answer", |path, _| path == retried)
        .await;
    b.reload_until("the delivery's success", Duration::from_secs(10), |t| {
        t.contains("Status\nsuccess") && t.contains("HTTP 204")
    })
    .await;
    assert_eq!(
        b.client()
            .find(Locator::Css("#delivery-status .badge"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "success"
    );
    assert_eq!(app.delivery(&id).await["status"], "success");

    b.goto(&format!("{}/console/webhooks/{webhook_id}", app.address))
        .await;
    assert!(b.text().await.contains("Recent deliveries"));
    b.screenshot("webhook").await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payloads_and_response_bodies_holding_html_render_as_text_and_no_script_runs() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let app = app_with_operator_token().await;
    let hostile =
        "<script>window.__pwned = 1</script><img src=x onerror=\"window.__pwned = 2\"><b>bold</b>";
    let receiver = Receiver::start(move |_| Reply::status(500).body(hostile)).await;
    let created = app
        .post(
            "/webhooks",
            &json!({"url": receiver.url, "event_types": ["a"], "description": hostile}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let webhook: Value = created.json().await.unwrap();
    let id = failed_delivery(&app, "a", json!({"note": hostile})).await;

    sign_in(&b, &app, OPERATOR_TOKEN).await;
    for path in [
        format!("/console/deliveries/{id}"),
        format!("/console/webhooks/{}", webhook["id"].as_str().unwrap()),
        "/console/webhooks".to_owned(),
        "/console/deliveries".to_owned(),
        "/console/dead-letters".to_owned(),
        "/console".to_owned(),
    ] {
        b.goto(&format!("{}{path}", app.address)).await;
        assert_eq!(b.path().await, path);
        // Nothing the stored strings hold became an element, so nothing could run.
        let found = b
            .eval(
                "return [typeof window.__pwned, document.querySelectorAll('script').length,
                         document.querySelectorAll('main img, main b').length]",
            )
            .await;
        assert_eq!(found, json!(["undefined", 0, 0]), "{path}");
    }
    // And the text is there, as text.
    b.goto(&format!("{}/console/deliveries/{id}", app.address))
        .await;
    let page = b.text().await;
    assert!(
        page.contains("<script>window.__pwned = 1</script>"),
        "{page}"
    );
    assert!(
        page.contains("onerror=\"window.__pwned = 2\"><b>bold</b>"),
        "{page}"
    );
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenants_portal_link_shows_its_own_deliveries_and_another_tenants_are_404() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let app = app_with_operator_token().await;
    let receiver = Receiver::ok().await;
    let mut webhooks = Vec::new();
    let mut deliveries = Vec::new();
    for (tenant, name, order) in [
        ("acme", "Acme Corp", "acme-order-1"),
        ("globex", "Globex", "globex-order-7"),
    ] {
        let r = app
            .put(&format!("/tenants/{tenant}"), &json!({"name": name}))
            .await;
        assert_eq!(r.status(), 201);
        let r = app
            .post(
                "/webhooks",
                &json!({"tenant": tenant, "url": format!("{}/{tenant}", receiver.url), "event_types": ["order.created"]}),
            )
            .await;
        assert_eq!(r.status(), 201);
        let webhook: Value = r.json().await.unwrap();
        webhooks.push(webhook["id"].as_str().unwrap().to_owned());
        let r = app
            .post(
                "/events",
                &json!({"tenant": tenant, "type": "order.created", "payload": {"order": order}}),
            )
            .await;
        assert_eq!(r.status(), 201);
        let event: Value = r.json().await.unwrap();
        let id = app.deliveries_of(event["id"].as_str().unwrap()).await[0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        app.wait_for_status(&id, "success", Duration::from_secs(10))
            .await;
        deliveries.push(id);
    }
    let r = app
        .post("/tenants/acme/portal", &json!({"ttl": "1h"}))
        .await;
    assert_eq!(r.status(), 201);
    let link: Value = r.json().await.unwrap();
    let link = link["url"].as_str().unwrap().to_owned();
    if screenshots() {
        an_hour_of_traffic(&app, &[&webhooks[0]]).await;
    }
    assert!(
        link.starts_with(&format!("{}/portal#hrt_", app.address)),
        "{link}"
    );

    // The link signs in: the fragment's token becomes a session, and leaves the address bar.
    b.goto(&link).await;
    b.wait_until("the portal's overview", |path, text| {
        path == "/portal" && text.contains("Overview")
    })
    .await;
    let url = b.client().current_url().await.unwrap();
    assert_eq!(url.fragment(), None, "the token is out of the address bar");
    b.screenshot("portal").await;

    b.goto(&format!("{}/portal/deliveries", app.address)).await;
    let list = b.text().await;
    assert!(list.contains(&format!("{}/acme", receiver.url)), "{list}");
    assert!(
        !list.contains("globex"),
        "another tenant's delivery is listed: {list}"
    );
    b.goto(&format!(
        "{}/portal/deliveries/{}",
        app.address, deliveries[0]
    ))
    .await;
    assert!(b.text().await.contains("acme-order-1"));

    // Globex's delivery and webhook, typed into Acme's portal: not found, as a missing one.
    for path in [
        format!("/portal/deliveries/{}", deliveries[1]),
        format!("/portal/webhooks/{}", webhooks[1]),
        "/portal/tenants".to_owned(),
    ] {
        b.goto(&format!("{}{path}", app.address)).await;
        let text = b.text().await;
        assert!(text.contains("404"), "{path}: {text}");
        assert!(!text.contains("globex-order-7"), "{path}: {text}");
    }
    b.goto(&format!("{}/portal/webhooks", app.address)).await;
    let hooks = b.text().await;
    assert!(
        hooks.contains("/acme") && !hooks.contains("/globex"),
        "{hooks}"
    );
    // Globex named in a filter is no tenant at all, for Acme.
    b.goto(&format!("{}/portal/deliveries?tenant=globex", app.address))
        .await;
    assert!(b.text().await.contains("404"));

    // A portal session does not open the operator's console.
    b.goto(&format!("{}/console", app.address)).await;
    assert_eq!(b.path().await, "/console/sign-in");
    b.close().await;
}

/// A delivery held up by the one ahead of it under its ordering key says so
/// on its page, with a link that leads to the one ahead, which says it waits
/// for its retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_delivery_says_what_it_waits_for_and_links_the_one_ahead() {
    let Some(b) = Browser::start().await else {
        return;
    };
    // The first failure's retry is a minute away: long enough to look.
    let app =
        crate::console::operator_app(|c| c.retry_schedule = crate::helpers::schedule(&[60_000]))
            .await;
    let receiver = Receiver::start(|_| Reply::status(503)).await;
    app.create_webhook(&receiver.url, &["order.updated"]).await;
    let mut ids = Vec::new();
    for n in 0..2 {
        let r = app
            .post(
                "/events",
                &json!({"type": "order.updated", "ordering_key": "order-42", "payload": {"n": n}}),
            )
            .await;
        assert_eq!(r.status(), 201);
        let event: Value = r.json().await.unwrap();
        let delivery = app.deliveries_of(event["id"].as_str().unwrap()).await;
        ids.push(delivery[0]["id"].as_str().unwrap().to_owned());
    }
    let (first, second) = (&ids[0], &ids[1]);
    assert!(
        eventually(Duration::from_secs(10), || async {
            app.delivery(first).await["waiting_for"] == "retry"
        })
        .await,
        "the first failed once and waits for its retry"
    );

    sign_in(&b, &app, OPERATOR_TOKEN).await;
    b.goto(&format!("{}/console/deliveries/{second}", app.address))
        .await;
    let waiting = b
        .client()
        .find(Locator::Css("#delivery-waiting"))
        .await
        .expect("a Waiting for line")
        .text()
        .await
        .unwrap();
    assert!(
        waiting.contains("ahead of it under ordering key order-42") && waiting.contains(first),
        "{waiting}"
    );
    b.screenshot("waiting-delivery").await;
    b.click(&format!(
        "#delivery-waiting a[href='/console/deliveries/{first}']"
    ))
    .await;
    let first_page = format!("/console/deliveries/{first}");
    b.wait_until("the page of the one ahead", |path, _| path == first_page)
        .await;
    let page = b.text().await;
    assert!(
        page.contains("Waiting for\nits next attempt, scheduled after a failure"),
        "{page}"
    );
    b.close().await;
}
