//! The console and portal in headless Chromium, for what a customer's own
//! use of the portal needs: every page at a phone's width, a portal link made
//! from the tenants page, one session at a time, the portal framed by another
//! site, and forms that refuse what the API refuses.

use std::time::Duration;

use fantoccini::Locator;
use serde_json::{json, Value};

use crate::browser::Browser;
use crate::console::{operator_app, portal_token, OPERATOR_TOKEN};
use crate::helpers::{Receiver, Reply, TestApp};

/// Signs the browser in to the console with the operator token.
async fn operator_signs_in(b: &Browser, app: &TestApp) {
    b.goto(&format!("{}/console/sign-in", app.address)).await;
    b.fill("#token", OPERATOR_TOKEN).await;
    b.click("form#fragment-sign-in button[type=submit]").await;
    b.wait_until("the console", |path, _| path == "/console")
        .await;
}

/// Opens a portal link and waits for the page it leads to.
async fn open_link(b: &Browser, app: &TestApp, token: &str) {
    b.goto(&format!("{}/portal#{token}", app.address)).await;
    b.wait_until("the portal after the link", |path, _| {
        path == "/portal" || path == "/portal/sign-in"
    })
    .await;
}

/// A tenant with a webhook (long URL, several types) and one dead letter.
async fn tenant_with_history(app: &TestApp, tenant: &str, receiver: &Receiver) -> (String, String) {
    let r = app
        .put(
            &format!("/tenants/{tenant}"),
            &json!({"name": format!("{tenant} Corporation International")}),
        )
        .await;
    assert!(r.status().is_success());
    let r = app
        .post(
            "/webhooks",
            &json!({"tenant": tenant,
                    "url": format!("{}/{tenant}/a/rather/long/path/that/goes/on/and/on/for/a/while?with=query&and=more", receiver.url),
                    "event_types": ["order.created", "order.updated", "invoice.payment_failed"],
                    "description": "the endpoint that receives everything about orders and invoices",
                    "headers": {"Authorization": "Bearer never-shown-9c1"}}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let webhook: Value = r.json().await.unwrap();
    let r = app
        .post(
            "/events",
            &json!({"tenant": tenant, "type": "invoice.payment_failed", "payload": {"n": 1}}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let event: Value = r.json().await.unwrap();
    let delivery = app.deliveries_of(event["id"].as_str().unwrap()).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.wait_for_status(&delivery, "failed", Duration::from_secs(10))
        .await;
    (webhook["id"].as_str().unwrap().to_owned(), delivery)
}

/// What on the page is wider than the window, or out of its reach: the
/// document's width beyond the window's, and every control whose box is not
/// inside the window.
async fn overflow(b: &Browser) -> (u64, u64, Vec<String>) {
    let found = b
        .eval(
            "const w = window.innerWidth;
             const out = Array.from(document.querySelectorAll('button, a.button, input:not([type=hidden]), select, textarea'))
               .filter(e => { const r = e.getBoundingClientRect(); return r.width > 0 && (r.left < -0.5 || r.right > w + 0.5); })
               .map(e => e.outerHTML.slice(0, 120));
             return [document.documentElement.scrollWidth, w, out];",
        )
        .await;
    (
        found[0].as_u64().unwrap(),
        found[1].as_u64().unwrap(),
        found[2]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_of_console_and_portal_fits_a_phone_with_every_control_in_reach() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let app = operator_app(|c| c.retry_schedule = crate::helpers::schedule(&[])).await;
    let receiver = Receiver::start(|_| Reply::status(500).body("no")).await;
    let (webhook, delivery) = tenant_with_history(&app, "acme", &receiver).await;
    tenant_with_history(&app, "globex", &receiver).await;
    let token = portal_token(&app, "acme").await;

    operator_signs_in(&b, &app).await;
    b.client().set_window_size(390, 844).await.unwrap();
    app.put(
        "/event-types/invoice.payment_failed",
        &json!({"description": "A payment was refused by the customer's bank, for the third time this month.",
                "schema": {"type": "object", "properties": {"invoice_id": {"type": "string"}, "attempts": {"type": "integer"}}}}),
    )
    .await;
    let mut pages: Vec<String> = [
        "/console",
        "/console/tenants",
        "/console/webhooks",
        "/console/webhooks/new",
        "/console/deliveries",
        "/console/dead-letters",
        "/console/event-types",
    ]
    .iter()
    .map(|p| p.to_string())
    .collect();
    pages.push(format!("/console/webhooks/{webhook}"));
    pages.push(format!("/console/deliveries/{delivery}"));
    let portal: Vec<String> = pages
        .iter()
        .filter(|p| *p != "/console/tenants")
        .map(|p| p.replacen("/console", "/portal", 1))
        .collect();

    let mut wide = Vec::new();
    for (i, path) in pages.iter().chain(portal.iter()).enumerate() {
        if i == pages.len() {
            open_link(&b, &app, &token).await;
        }
        b.goto(&format!("{}{path}", app.address)).await;
        assert_eq!(&b.path().await, path, "signed in, the page itself shows");
        let (scroll, width, out) = overflow(&b).await;
        assert!(width <= 400, "the window is a phone's: {width} px");
        if scroll > width || !out.is_empty() {
            wide.push(format!(
                "{path}: document {scroll} px in {width} px; out of reach: {out:?}"
            ));
        }
        if path == "/portal/webhooks" {
            b.screenshot_at("portal-webhooks-phone", 390, 844).await;
        }
        if path == "/console/deliveries" {
            b.screenshot_at("deliveries-phone", 390, 844).await;
        }
        let html = b.client().source().await.unwrap();
        assert!(
            !html.contains("never-shown-9c1"),
            "{path} shows a header's value"
        );
    }
    assert!(wide.is_empty(), "wider than a phone:\n{}", wide.join("\n"));
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tenants_page_makes_a_portal_link_shown_once_that_opens_the_tenants_portal() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let app = operator_app(|_| {}).await;
    let receiver = Receiver::ok().await;
    for tenant in ["acme", "globex"] {
        app.put(&format!("/tenants/{tenant}"), &json!({})).await;
        app.create_webhook_for(tenant, &format!("{}/{tenant}", receiver.url), &["a"])
            .await;
    }
    operator_signs_in(&b, &app).await;
    b.goto(&format!("{}/console/tenants", app.address)).await;
    let default_row = b
        .eval(
            "return Array.from(document.querySelectorAll('tbody tr'))
               .filter(r => r.querySelector('td').textContent.trim() === 'default')
               .map(r => r.querySelectorAll('button').length)",
        )
        .await;
    assert_eq!(
        default_row,
        json!([0]),
        "tenant default gets no portal link"
    );
    b.click("form[action='/console/tenants/acme/portal'] button")
        .await;
    b.wait_until("the link", |_, text| text.contains("Portal link for acme"))
        .await;
    let link = b
        .client()
        .find(Locator::Css("#portal-link-url"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        link.starts_with(&format!("{}/portal#hrt_", app.address)),
        "{link}"
    );
    assert!(
        b.text().await.contains("works until"),
        "its expiry is shown"
    );
    // Shown once: the page read again has no link.
    b.goto(&format!("{}/console/tenants", app.address)).await;
    assert!(!b.text().await.contains("hrt_"));

    b.goto(&link).await;
    b.wait_until("acme's portal", |path, _| path == "/portal")
        .await;
    b.goto(&format!("{}/portal/webhooks", app.address)).await;
    let hooks = b.text().await;
    assert!(
        hooks.contains("/acme") && !hooks.contains("/globex"),
        "{hooks}"
    );
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_for_another_tenant_asks_first_and_leaves_the_session_until_confirmed() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let app = operator_app(|_| {}).await;
    let receiver = Receiver::ok().await;
    let mut tokens = Vec::new();
    for tenant in ["acme", "globex"] {
        tokens.push(portal_token(&app, tenant).await);
        app.create_webhook_for(tenant, &format!("{}/{tenant}-hook", receiver.url), &["a"])
            .await;
    }
    open_link(&b, &app, &tokens[0]).await;
    assert_eq!(b.path().await, "/portal");

    // Globex's link, opened where Acme is signed in: a question, not a switch.
    open_link(&b, &app, &tokens[1]).await;
    b.wait_until("the question", |_, text| text.contains("Switch portals?"))
        .await;
    let text = b.text().await;
    assert!(
        text.contains("signed in as tenant acme") && text.contains("for tenant globex"),
        "{text}"
    );
    let html = b.client().source().await.unwrap();
    assert!(
        !html.contains(&tokens[1]),
        "the link's token is not in the page"
    );
    b.goto(&format!("{}/portal/webhooks", app.address)).await;
    let hooks = b.text().await;
    assert!(
        hooks.contains("acme-hook") && !hooks.contains("globex-hook"),
        "still acme: {hooks}"
    );

    // Asked again and agreed: now Globex.
    open_link(&b, &app, &tokens[1]).await;
    b.wait_until("the question", |_, text| text.contains("Switch portals?"))
        .await;
    b.click("#replace").await;
    b.wait_until("globex's portal", |path, _| path == "/portal")
        .await;
    b.goto(&format!("{}/portal/webhooks", app.address)).await;
    let hooks = b.text().await;
    assert!(
        hooks.contains("globex-hook") && !hooks.contains("acme-hook"),
        "now globex: {hooks}"
    );
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_types_box_refuses_a_type_with_spaces_as_the_api_does() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let app = operator_app(|_| {}).await;
    let receiver = Receiver::ok().await;
    let webhook = app.create_webhook(&receiver.url, &["order.created"]).await;
    let id = webhook["id"].as_str().unwrap();
    operator_signs_in(&b, &app).await;
    b.goto(&format!("{}/console/webhooks/{id}", app.address))
        .await;
    b.fill("#event_types", "bad type with spaces").await;
    b.click(&format!(
        "form[action='/console/webhooks/{id}'] button[type=submit]"
    ))
    .await;
    b.wait_until("the refusal", |_, text| text.contains("event_types"))
        .await;
    assert_eq!(
        app.get_json(&format!("/webhooks/{id}")).await["event_types"],
        json!(["order.created"]),
        "nothing saved"
    );
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_portal_framed_by_another_site_signs_in_and_saves_a_form() {
    let Some(b) = Browser::start().await else {
        return;
    };
    // The operator's own site, on 127.0.0.1; the portal, on localhost: two sites.
    let page = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let served = page.clone();
    let site = Receiver::start(move |_| {
        Reply::status(200)
            .header("content-type", "text/html; charset=utf-8")
            .body(&served.lock().unwrap())
    })
    .await;
    let site_origin = reqwest::Url::parse(&site.url)
        .unwrap()
        .origin()
        .ascii_serialization();
    let app = operator_app(|c| c.portal_frame_ancestors = site_origin.clone()).await;
    let receiver = Receiver::ok().await;
    let token = portal_token(&app, "acme").await;
    let webhook = app
        .create_webhook_for("acme", &format!("{}/acme", receiver.url), &["a"])
        .await;
    let id = webhook["id"].as_str().unwrap().to_owned();
    let portal = app.address.replace("127.0.0.1", "localhost");
    *page.lock().unwrap() = format!(
        "<!doctype html><title>Operator</title><h1>Your webhooks</h1>\
         <iframe id=portal width=1000 height=900 src=\"{portal}/portal#{token}\"></iframe>"
    );

    b.goto(&site.url).await;
    let frame = b.client().find(Locator::Css("#portal")).await.unwrap();
    frame.enter_frame().await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        // The driver's address is the top window's; the frame's is its own.
        let url = b.eval("return location.pathname").await;
        let text = match b.client().find(Locator::Css("main")).await {
            Ok(m) => m.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if url == "/portal" && text.contains("Overview") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the framed portal did not sign in: at {url} it shows:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Scripts run in the frame the driver is in: this navigates the frame.
    b.eval(&format!("window.location.assign('/portal/webhooks/{id}')"))
        .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while b.client().find(Locator::Css("#description")).await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the webhook's page did not open in the frame"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    b.fill("#description", "saved from inside a frame").await;
    b.click(&format!(
        "form[action='/portal/webhooks/{id}'] button[type=submit]"
    ))
    .await;
    let saved = crate::helpers::eventually(Duration::from_secs(10), || async {
        app.get_json(&format!("/webhooks/{id}")).await["description"] == "saved from inside a frame"
    })
    .await;
    assert!(saved, "the framed form saved");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_adds_a_webhook_in_its_portal_from_the_catalog_sees_its_secret_once_and_tests_it()
{
    let Some(b) = Browser::start().await else {
        return;
    };
    let app = operator_app(|_| {}).await;
    let r = app
        .put(
            "/event-types/order.created",
            &json!({"description": "An order was placed.",
                    "schema": {"type": "object", "properties": {"order_id": {"type": "integer"}}}}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let receiver = Receiver::ok().await;
    let acme = portal_token(&app, "acme").await;
    let globex = portal_token(&app, "globex").await;

    open_link(&b, &app, &acme).await;
    b.goto(&format!("{}/portal/webhooks", app.address)).await;
    b.click("#new-webhook").await;
    b.wait_until("the form", |path, _| path == "/portal/webhooks/new")
        .await;
    let text = b.text().await;
    assert!(
        text.contains("An order was placed."),
        "the catalog's description: {text}"
    );
    let url = format!("{}/acme-endpoint", receiver.url);
    b.fill("#url", &url).await;
    b.click("input[name=event_type][value='order.created']")
        .await;
    b.fill("#headers", "Authorization: Bearer acme-credential-77")
        .await;
    b.screenshot("portal-new-webhook").await;
    b.screenshot_at("portal-new-webhook-phone", 390, 844).await;
    b.client().set_window_size(1280, 1000).await.unwrap();
    b.click("#new-webhook-form button[type=submit]").await;
    b.wait_until("the new webhook", |_, text| text.contains("Created."))
        .await;
    let secret = b
        .client()
        .find(Locator::Css("#secret-value"))
        .await
        .expect("the secret is shown")
        .text()
        .await
        .unwrap();
    assert!(secret.starts_with("whsec_"), "{secret}");
    let id = b.path().await;
    assert_eq!(
        id, "/portal/webhooks/new",
        "the secret is the answer to the post, at no address of its own"
    );

    let listed = app.get_json("/webhooks?tenant=acme").await;
    let webhook = &listed["data"][0];
    assert_eq!(webhook["url"], url);
    assert_eq!(webhook["event_types"], json!(["order.created"]));
    let id = webhook["id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.get_json(&format!("/webhooks/{id}/secret")).await["secret"],
        secret.as_str()
    );

    // Read again, the page hides the secret and the header's value.
    b.goto(&format!("{}/portal/webhooks/{id}", app.address))
        .await;
    let html = b.client().source().await.unwrap();
    assert!(!html.contains(&secret) && !html.contains("acme-credential-77"));
    b.click("form[action$='/test'] button").await;
    b.wait_until("the test's delivery", |path, _| {
        path.starts_with("/portal/deliveries/")
    })
    .await;
    b.reload_until("delivered", Duration::from_secs(10), |text| {
        text.contains("success")
    })
    .await;
    let got = receiver.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(got[0].header("authorization"), "Bearer acme-credential-77");
    standardwebhooks::Webhook::new(&secret)
        .unwrap()
        .verify(&got[0].body, &got[0].headers)
        .expect("signed with the secret shown");

    // Globex's portal does not see it.
    let mut other = crate::console::Visitor::new(&app);
    other.sign_in("/portal", &globex).await;
    let page = other.get("/portal/webhooks").await.text().await.unwrap();
    assert!(!page.contains("acme-endpoint"), "{page}");
    let r = other.get(&format!("/portal/webhooks/{id}")).await;
    assert_eq!(r.status(), 404);
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_types_page_saves_a_schema_refuses_an_invalid_one_and_the_portal_reads_it() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let app = operator_app(|_| {}).await;
    operator_signs_in(&b, &app).await;
    b.goto(&format!("{}/console/event-types", app.address))
        .await;
    b.fill("#type-name", "invoice.paid").await;
    b.fill("#type-description", "An invoice was paid in full.")
        .await;
    b.fill(
        "#type-schema",
        r#"{"type": "object", "required": ["invoice_id"], "properties": {"invoice_id": {"type": "string", "examples": ["in_123"]}}}"#,
    )
    .await;
    b.click("#type-form button[type=submit]").await;
    b.wait_until("saved", |_, text| text.contains("Saved."))
        .await;
    let entry = app.get_json("/event-types/invoice.paid").await;
    assert_eq!(entry["schema"]["required"], json!(["invoice_id"]));

    // An invalid schema is refused, and the stored one stays.
    b.goto(&format!(
        "{}/console/event-types?edit=invoice.paid",
        app.address
    ))
    .await;
    b.fill("#type-schema", r#"{"type": "nonsense"}"#).await;
    b.click("#type-form button[type=submit]").await;
    b.wait_until("the refusal", |_, text| text.contains("schema:"))
        .await;
    assert_eq!(
        app.get_json("/event-types/invoice.paid").await["schema"],
        entry["schema"]
    );
    b.fill("#type-schema", "{not json").await;
    b.click("#type-form button[type=submit]").await;
    b.wait_until("the refusal", |_, text| {
        text.contains("schema: is not JSON")
    })
    .await;

    // The portal shows it, read-only, with an example payload.
    let token = portal_token(&app, "acme").await;
    open_link(&b, &app, &token).await;
    b.goto(&format!("{}/portal/event-types", app.address)).await;
    let text = b.text().await;
    assert!(
        text.contains("invoice.paid") && text.contains("An invoice was paid in full."),
        "{text}"
    );
    assert!(
        b.client().find(Locator::Css("#type-form")).await.is_err(),
        "no form in the portal"
    );
    b.eval("document.querySelectorAll('details').forEach(d => d.open = true)")
        .await;
    b.screenshot("portal-event-types").await;
    let example = b
        .eval("return document.querySelector('details.example pre').textContent")
        .await;
    let example: Value = serde_json::from_str(example.as_str().unwrap()).unwrap();
    assert_eq!(example, json!({"invoice_id": "in_123"}));
    b.close().await;
}
