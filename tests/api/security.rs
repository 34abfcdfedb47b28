//! Closing the doors: API tokens, the outbound address guard, secrets, hostile input.

use std::time::Duration;

use proptest::prelude::*;
use serde_json::json;

use crate::helpers::{fresh_database, spawn_app_with, Process, Receiver};

/// Every route but /healthz and /readyz, as served, with a method.
fn guarded_routes() -> Vec<(&'static str, String)> {
    let id = uuid::Uuid::new_v4().to_string();
    hookrelay::api::ROUTES
        .iter()
        .map(|(method, path)| {
            let path = path.replace("{id}", &id).replace("{key}", "acme");
            match *method {
                "get" => ("GET", path),
                "post" => ("POST", path),
                "patch" => ("PATCH", path),
                "put" => ("PUT", path),
                "delete" => ("DELETE", path),
                other => panic!("a route with method {other}"),
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_but_health_needs_a_valid_token() {
    let app =
        spawn_app_with(|c| c.api_tokens = vec!["first-token".into(), "second-token".into()]).await;
    for (n, (method, path)) in guarded_routes().into_iter().enumerate() {
        let url = format!("{}{path}", app.address);
        // Each route from an address of its own: failures are throttled per address.
        let http = from_address(n);
        let send = |token: Option<&str>| {
            let mut r = http
                .request(method.parse().unwrap(), &url)
                .header("Content-Type", "application/json")
                .body(r#"{"enabled": true}"#);
            if let Some(t) = token {
                r = r.bearer_auth(t);
            }
            r.send()
        };
        let none = send(None).await.unwrap();
        assert_eq!(none.status(), 401, "{method} {path} without a token");
        assert_eq!(
            none.headers().get("content-type").unwrap(),
            "application/problem+json"
        );
        assert_eq!(
            send(Some("wrong-token")).await.unwrap().status(),
            401,
            "{method} {path} with a wrong token"
        );
        let right = send(Some("second-token")).await.unwrap();
        assert_ne!(right.status(), 401, "{method} {path} with a right token");
        assert!(
            right.status().as_u16() < 500,
            "{method} {path}: {}",
            right.status()
        );
    }
    for open in ["/healthz", "/readyz"] {
        assert_eq!(app.get(open).await.status(), 200, "{open} needs no token");
    }
    // A right token does real work.
    let created = app
        .http
        .post(format!("{}/webhooks", app.address))
        .bearer_auth("first-token")
        .json(&json!({"url": "https://example.com", "event_types": ["a"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
}

/// A client whose requests come from 127.0.0.(n + 2): an address of its own.
fn from_address(n: usize) -> reqwest::Client {
    let last = u8::try_from(n + 2).expect("fewer than 250 addresses");
    reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, last]))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_21st_failed_authentication_in_a_minute_from_one_address_answers_429() {
    let app = spawn_app_with(|c| c.api_tokens = vec!["right-token".into()]).await;
    let (attacker, bystander) = (from_address(0), from_address(1));
    let call = |http: &reqwest::Client, token: &str| {
        http.get(format!("{}/webhooks", app.address))
            .bearer_auth(token)
            .send()
    };
    // Wrong operator tokens and unknown tenant tokens count alike.
    for n in 0..20 {
        let token = if n % 2 == 0 {
            format!("wrong-{n}")
        } else {
            format!("hrt_unknown{n}")
        };
        let r = call(&attacker, &token).await.unwrap();
        assert_eq!(r.status(), 401, "failure {}", n + 1);
    }
    let r = call(&attacker, "hrt_unknown21").await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "Retry-After: {wait}");
    let problem: serde_json::Value = r.json().await.unwrap();
    assert_eq!(problem["status"], 429);
    // The address waits out its minute, whatever it presents; others do not.
    assert_eq!(call(&attacker, "right-token").await.unwrap().status(), 429);
    assert_eq!(call(&bystander, "right-token").await.unwrap().status(), 200);
    assert_eq!(call(&bystander, "wrong").await.unwrap().status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_21st_failed_console_sign_in_in_a_minute_answers_429() {
    let app = spawn_app_with(|c| c.api_tokens = vec!["right-token".into()]).await;
    let mut visitor = crate::console::Visitor::new(&app);
    for n in 0..20 {
        let r = visitor.sign_in("/console", &format!("wrong-{n}")).await;
        assert_eq!(r.status(), 401, "failure {}", n + 1);
    }
    let r = visitor.sign_in("/console", "right-token").await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
}

#[test]
fn hookrelay_refuses_to_listen_on_an_open_address_without_tokens() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hookrelay"))
        .env_clear()
        .env("HOOKRELAY_LISTEN", "0.0.0.0:0")
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("HOOKRELAY_API_TOKENS"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guard_refuses_private_targets_at_every_attempt_unless_lifted() {
    let guarded = spawn_app_with(|c| {
        c.allow_private_targets = false;
        c.retry_schedule = crate::helpers::schedule(&[]);
    })
    .await;
    let receiver = Receiver::ok().await;
    let port = receiver
        .url
        .trim_start_matches("http://127.0.0.1:")
        .trim_end_matches("/hook")
        .to_owned();
    // A literal private address is refused at registration...
    let r = guarded
        .post(
            "/webhooks",
            &json!({"url": receiver.url, "event_types": ["a"]}),
        )
        .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("url"));
    // ...and at the attempt, should one be in the table anyway (registered before
    // the guard was on); a hostname that resolves to loopback only fails there.
    guarded
        .db
        .execute(
            "INSERT INTO webhooks (id, url, event_types, secret) VALUES (gen_random_uuid(), $1, '{a}', $2)",
            &[&receiver.url, &"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
        )
        .await
        .unwrap();
    guarded
        .create_webhook(&format!("http://localhost:{port}/hook"), &["a"])
        .await;
    let event = guarded.emit("a", json!({})).await;
    assert_eq!(event["deliveries"], 2);
    for d in guarded.deliveries_of(event["id"].as_str().unwrap()).await {
        let d = guarded
            .wait_for_status(d["id"].as_str().unwrap(), "failed", Duration::from_secs(10))
            .await;
        let error = d["attempt_log"][0]["error"].as_str().unwrap();
        assert!(error.contains("refused by the address guard"), "{error}");
    }
    assert_eq!(receiver.count(), 0, "the receiver got nothing");

    let open = spawn_app_with(|c| c.allow_private_targets = true).await;
    open.create_webhook(&receiver.url, &["a"]).await;
    open.create_webhook(&format!("http://localhost:{port}/hook"), &["a"])
        .await;
    open.emit("a", json!({})).await;
    receiver.wait_for(2, Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn literal_addresses_are_refused_or_allowed_at_registration() {
    let app = spawn_app_with(|c| c.allow_private_targets = false).await;
    let cases = [
        ("http://127.0.0.1/", 422),
        ("http://10.0.0.8/", 422),
        ("http://172.20.1.1/", 422),
        ("http://192.168.0.1/", 422),
        ("http://100.100.100.100/", 422),
        ("http://169.254.169.254/latest/meta-data", 422),
        ("http://0.0.0.0/", 422),
        ("http://[::1]/", 422),
        ("http://[fe80::1]/", 422),
        ("http://[fd00::1]/", 422),
        ("http://[::ffff:127.0.0.1]/", 422),
        ("http://[::ffff:10.1.1.1]/", 422),
        ("http://8.8.8.8/", 201),
        ("https://[2606:4700:4700::1111]/", 201),
        ("http://[::ffff:1.1.1.1]/", 201),
    ];
    for (url, status) in cases {
        let r = app
            .post("/webhooks", &json!({"url": url, "event_types": ["a"]}))
            .await;
        assert_eq!(r.status().as_u16(), status, "{url}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_rotation_deliveries_verify_under_the_old_and_the_new_secret() {
    let app = spawn_app_with(|_| {}).await;
    let receiver = Receiver::ok().await;
    let webhook = app.create_webhook(&receiver.url, &["a"]).await;
    let old = webhook["secret"].as_str().unwrap().to_owned();
    let id = webhook["id"].as_str().unwrap();
    let rotated = app
        .post(&format!("/webhooks/{id}/rotate-secret"), &json!({}))
        .await;
    let new = rotated.json::<serde_json::Value>().await.unwrap()["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(old, new);
    assert_eq!(
        app.get_json(&format!("/webhooks/{id}/secret")).await["secret"],
        new
    );

    app.emit("a", json!({"after": "rotation"})).await;
    let r = &receiver.wait_for(1, Duration::from_secs(10)).await[0];
    assert_eq!(r.header("webhook-signature").split(' ').count(), 2);
    for secret in [&old, &new] {
        standardwebhooks::Webhook::new(secret)
            .unwrap()
            .verify(&r.body, &r.headers)
            .expect("verifies under this secret");
    }
    let stranger = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    assert!(standardwebhooks::Webhook::new(stranger)
        .unwrap()
        .verify(&r.body, &r.headers)
        .is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_bodies_get_clean_4xx_answers() {
    let app = spawn_app_with(|_| {}).await;
    let deep = format!(
        "{{\"type\": \"a\", \"payload\": {}{}}}",
        "[".repeat(300_000),
        "]".repeat(300_000)
    );
    let send = |body: Vec<u8>| {
        app.http
            .post(format!("{}/events", app.address))
            .header("Content-Type", "application/json")
            .body(body)
            .send()
    };
    let r = send(deep.into_bytes()).await.unwrap();
    assert_eq!(
        r.status(),
        413,
        "300k levels of nesting is over the size limit"
    );
    let nested = format!(
        "{{\"type\": \"a\", \"payload\": {}{}}}",
        "[".repeat(2000),
        "]".repeat(2000)
    );
    let r = send(nested.into_bytes()).await.unwrap();
    assert_eq!(
        r.status(),
        422,
        "2000 levels fit the size limit but not the depth limit"
    );
    assert!(r.text().await.unwrap().contains("payload"));
    let nul_description =
        json!({"url": "https://example.com", "event_types": ["a"], "description": "a\u{0}b"});
    assert_eq!(app.post("/webhooks", &nul_description).await.status(), 422);
    assert_eq!(app.count("events").await + app.count("webhooks").await, 0);
}

#[test]
fn random_requests_never_get_a_5xx() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let app = runtime.block_on(spawn_app_with(|c| c.workers = 0));
    let webhook = runtime.block_on(app.create_webhook("https://example.com", &["a"]));
    let real_id = webhook["id"].as_str().unwrap().to_owned();
    let routes = guarded_routes();
    let strategy = (
        0..routes.len(),
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..300),
            "[ -~]{0,200}".prop_map(String::into_bytes),
            // Near-valid bodies: right shape, random values.
            ("[ -~]{0,40}", "[ -~]{0,40}").prop_map(|(t, u)| {
                json!({"type": t, "payload": u, "url": u, "event_types": [t]})
                    .to_string()
                    .into_bytes()
            }),
        ],
        "[ -~]{0,80}",
        any::<bool>(),
    );
    let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
        cases: 400,
        failure_persistence: None,
        ..Default::default()
    });
    runner
        .run(&strategy, |(route, body, query, use_real_id)| {
            let (method, path) = &routes[route];
            // Half the time, aim at a webhook that exists.
            let mut parts: Vec<&str> = path.split('/').collect();
            if use_real_id && parts.len() > 2 {
                parts[2] = &real_id;
            }
            let path = parts.join("/");
            let url = format!("{}{path}?{query}", app.address);
            let status = runtime.block_on(async {
                app.http
                    .request(method.parse().unwrap(), &url)
                    .header("Content-Type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
            });
            let status = status.map_err(|e| TestCaseError::fail(format!("{method} {url}: {e}")))?;
            prop_assert!(status < 500, "{} {} answered {}", method, url, status);
            Ok(())
        })
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_appears_in_the_logs_even_at_trace_level() {
    let url = fresh_database().await;
    let process = Process::start(
        &url,
        &[("RUST_LOG", "trace"), ("HOOKRELAY_RETRY_SCHEDULE", "10ms")],
    )
    .await;
    let http = reqwest::Client::new();
    let failing = Receiver::start(|_| crate::helpers::Reply::status(500)).await;
    let ok = Receiver::ok().await;
    let given = "whsec_c2VjcmV0LXRoYXQtbXVzdC1uZXZlci1iZS1sb2dnZWQ=";
    let mut secrets = vec![given.to_owned()];
    for (url, secret) in [(&failing.url, Some(given)), (&ok.url, None)] {
        let mut body = json!({"url": url, "event_types": ["a"]});
        if let Some(s) = secret {
            body["secret"] = json!(s);
        }
        let r: serde_json::Value = http
            .post(format!("{}/webhooks", process.address))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        secrets.push(r["secret"].as_str().unwrap().to_owned());
        let id = r["id"].as_str().unwrap();
        let rotated: serde_json::Value = http
            .post(format!("{}/webhooks/{id}/rotate-secret", process.address))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        secrets.push(rotated["secret"].as_str().unwrap().to_owned());
    }
    // A rejected secret must not be echoed either.
    let bad = "whsec_tooshort";
    let r = http
        .post(format!("{}/webhooks", process.address))
        .json(&json!({"url": ok.url, "event_types": ["a"], "secret": bad}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert!(!r.text().await.unwrap().contains(bad));
    secrets.push(bad.to_owned());
    http.post(format!("{}/events", process.address))
        .json(&json!({"type": "a", "payload": {"x": 1}}))
        .send()
        .await
        .unwrap();
    ok.wait_for(1, Duration::from_secs(10)).await;
    failing.wait_for(2, Duration::from_secs(10)).await;

    // Hostile input through every route, at an existing webhook and delivery:
    // whatever the database refuses must be a 4xx, and its error must not
    // bring the row (and the secret in it) into the log.
    let long_url = format!("{}/{}", ok.url, " x".repeat(900));
    assert!(long_url.len() < 2048, "short enough before normalisation");
    let r = http
        .post(format!("{}/webhooks", process.address))
        .json(&json!({"url": long_url, "event_types": ["a"], "secret": given}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422, "a URL over the limit once normalised");
    assert!(r.text().await.unwrap().contains("url"));
    let newest = |list: &'static str| {
        let url = format!("{}/{list}", process.address);
        let http = &http;
        async move {
            let page: serde_json::Value = http.get(url).send().await.unwrap().json().await.unwrap();
            page["data"][0]["id"].as_str().unwrap().to_owned()
        }
    };
    let webhook_id = newest("webhooks").await;
    let delivery_id = newest("deliveries").await;
    let hostile = [
        json!({"url": long_url, "event_types": ["a"], "secret": given}),
        json!({"url": format!("{}?q={}", ok.url, "%".repeat(1500)), "event_types": ["a"]}),
        json!({"url": ok.url, "event_types": ["a"], "description": "d".repeat(5000), "secret": given}),
        json!({"url": ok.url, "event_types": ["a".repeat(129)], "secret": given}),
        json!({"url": ok.url, "event_types": ["a"], "enabled": "yes", "secret": given}),
        json!({"type": "a", "payload": {"k": "\u{0}"}}),
        json!({"type": "a\u{0}", "payload": 1}),
        json!({"type": "a".repeat(10_000), "payload": 1}),
    ];
    for (method, path) in hookrelay::api::ROUTES {
        let id = if path.starts_with("/deliveries") {
            &delivery_id
        } else {
            &webhook_id
        };
        let path = path.replace("{id}", id);
        let method = method.to_uppercase();
        for body in &hostile {
            let url = format!("{}{path}?since=x&limit=1e9&status=%00", process.address);
            let r = http
                .request(method.parse().unwrap(), &url)
                .json(body)
                .send()
                .await
                .unwrap();
            assert!(r.status().as_u16() < 500, "{method} {path}: {}", r.status());
        }
    }

    let log = process.log_text();
    assert!(log.lines().count() > 20, "the log captured the run:\n{log}");
    for secret in &secrets {
        let body = secret.trim_start_matches("whsec_");
        assert!(!log.contains(body), "a secret appears in the log");
    }
    assert!(
        !log.contains("whsec_"),
        "something secret-shaped appears in the log"
    );
}

/// The address a receiver listens on, as a proxy URL: `http://127.0.0.1:<port>`.
fn as_proxy(receiver: &Receiver) -> String {
    receiver.url.trim_end_matches("/hook").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxies_from_the_environment_are_ignored_so_the_guard_still_refuses() {
    // A "proxy" that would forward anything: it answers 200 to whatever it gets.
    let proxy = Receiver::ok().await;
    let proxy_url = as_proxy(&proxy);
    let url = fresh_database().await;
    let mut env = vec![
        ("HOOKRELAY_ALLOW_PRIVATE_TARGETS", "false"),
        ("HOOKRELAY_RETRY_SCHEDULE", "10ms"),
    ];
    for name in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ] {
        env.push((name, proxy_url.as_str()));
    }
    let process = Process::start(&url, &env).await;
    let http = reqwest::Client::new();
    // A hostname passes registration; it resolves to loopback only at the attempt.
    let port = crate::helpers::closed_port();
    for scheme in ["http", "https"] {
        let r = http
            .post(format!("{}/webhooks", process.address))
            .json(
                &json!({"url": format!("{scheme}://localhost:{port}/hook"), "event_types": ["a"]}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    let event: serde_json::Value = http
        .post(format!("{}/events", process.address))
        .json(&json!({"type": "a", "payload": {}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(event["deliveries"], 2);
    let page: serde_json::Value = http
        .get(format!(
            "{}/events/{}/deliveries",
            process.address,
            event["id"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for d in page["data"].as_array().unwrap() {
        let url = format!(
            "{}/deliveries/{}",
            process.address,
            d["id"].as_str().unwrap()
        );
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        let d = loop {
            let d: serde_json::Value = http.get(&url).send().await.unwrap().json().await.unwrap();
            if d["status"] == "failed" || d["status"] == "success" {
                break d;
            }
            assert!(std::time::Instant::now() < deadline, "unfinished: {d:#}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_eq!(d["status"], "failed", "{d:#}");
        for attempt in d["attempt_log"].as_array().unwrap() {
            let error = attempt["error"].as_str().unwrap_or("");
            assert!(error.contains("refused by the address guard"), "{d:#}");
        }
    }
    assert_eq!(proxy.count(), 0, "the environment's proxy got a request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_an_outbound_proxy_every_delivery_goes_through_it() {
    let proxy = Receiver::ok().await;
    let proxy_url: url::Url = as_proxy(&proxy).parse().unwrap();
    // The guard is on, and the proxy itself is on loopback: naming it is the
    // operator's choice, and hostnames are the proxy's to resolve and police.
    let app = spawn_app_with(|c| {
        c.allow_private_targets = false;
        c.outbound_proxy = Some(proxy_url);
    })
    .await;
    // `.invalid` never resolves: only the proxy can have carried this.
    app.create_webhook("http://receiver.hookrelay.invalid/hook", &["a"])
        .await;
    let event = app.emit("a", json!({"via": "proxy"})).await;
    let got = proxy.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got[0].header("host"), "receiver.hookrelay.invalid");
    assert_eq!(got[0].json(), json!({"via": "proxy"}));
    let delivery = &app.deliveries_of(event["id"].as_str().unwrap()).await[0];
    app.wait_for_status(
        delivery["id"].as_str().unwrap(),
        "success",
        Duration::from_secs(10),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bearer_scheme_is_case_insensitive() {
    let app = spawn_app_with(|c| {
        c.workers = 0;
        c.api_tokens = vec!["the-token".into()];
    })
    .await;
    let status = |authorization: &'static str| {
        app.http
            .get(format!("{}/webhooks", app.address))
            .header("Authorization", authorization)
            .send()
    };
    for accepted in [
        "Bearer the-token",
        "bearer the-token",
        "BEARER the-token",
        "bEaReR the-token",
        "Bearer    the-token",
    ] {
        let r = status(accepted).await.unwrap();
        assert_eq!(r.status(), 200, "{accepted:?}");
    }
    for refused in [
        "Basic the-token",
        "Bearerthe-token",
        "the-token",
        "Bearer the-token2",
        "Bearer",
    ] {
        let r = status(refused).await.unwrap();
        assert_eq!(r.status(), 401, "{refused:?}");
    }
}
