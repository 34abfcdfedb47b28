//! The `console` scenario: how long each page of the operator console and of
//! the tenant portal takes to answer, on the big table with a busy last hour
//! on top of it.
//!
//! Pages are fetched one at a time by a signed-in session, so the figures are
//! what a person waits for rather than throughput. The last hour is written
//! with SQL, like the big table, in the shapes the pages filter on: dead
//! letters, a rare event type, a busy webhook beside an old one.

use std::path::Path;
use std::time::Instant;

use serde_json::Value;

use crate::hookrelay::Hookrelay;
use crate::postgres::connect;
use crate::support::BenchResult;

/// The last hour as a busy console sees it, on top of the big table: `rows`
/// deliveries over 20 webhooks, each with its attempt, one in twenty of them
/// dead letters; and a rare event type, to filter by.
pub async fn fill_recent(db: &tokio_postgres::Client, rows: i64) -> BenchResult<()> {
    db.batch_execute(&format!(
        "INSERT INTO webhooks (id, url, event_types, secret, tenant)
         SELECT uuid_v7(), 'https://example.com/console/' || n, '{{bench.console,bench.rare}}',
                'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'bench'
         FROM generate_series(1, 20) n;
         WITH w AS (SELECT array_agg(id) AS ids FROM webhooks WHERE url LIKE 'https://example.com/console/%'),
         src AS MATERIALIZED (
             SELECT uuid_v7() AS id, n, now() - random() * interval '1 hour' AS at,
                    CASE WHEN random() < 0.05 THEN 'failed' ELSE 'success' END AS status,
                    1 + floor(random() * 20)::int AS hook
             FROM generate_series(1, {rows}) n),
         e AS (
             INSERT INTO events (id, type, payload, created_at, tenant)
             SELECT id, CASE WHEN n % 5000 = 0 THEN 'bench.rare' ELSE 'bench.console' END,
                    jsonb_build_object('n', n), at, 'bench'
             FROM src),
         d AS (
             INSERT INTO deliveries (id, webhook_id, event_id, status, attempts, last_status_code,
                                     last_error, created_at, updated_at, completed_at, tenant)
             SELECT uuid_v7(), w.ids[src.hook], src.id, src.status, 1,
                    CASE src.status WHEN 'success' THEN 200 ELSE 500 END,
                    CASE src.status WHEN 'failed' THEN 'retry budget spent' END,
                    src.at, src.at, src.at + interval '40 ms', 'bench'
             FROM src CROSS JOIN w
             RETURNING id, status, created_at)
         INSERT INTO delivery_attempts (delivery_id, attempt, started_at, duration_ms, status_code, response_body)
         SELECT id, 1, created_at, 5 + floor(random() * 200)::int,
                CASE status WHEN 'success' THEN 200 ELSE 500 END, 'ok'
         FROM d;"
    ))
    .await?;
    db.batch_execute("VACUUM ANALYZE").await?;
    Ok(())
}

/// p50 and p95 of each console page, in ms, signed in as the operator, one
/// request at a time: what a person waits for.
pub async fn console(
    binary: &Path,
    url: &str,
    requests: usize,
) -> BenchResult<Vec<(&'static str, (f64, f64))>> {
    let db = connect(url).await?;
    let id = |sql: &'static str| {
        let db = &db;
        async move {
            let row = db.query_one(sql, &[]).await?;
            Ok::<_, tokio_postgres::Error>(row.get::<_, uuid::Uuid>(0))
        }
    };
    let busy_webhook =
        id("SELECT id FROM webhooks WHERE url LIKE 'https://example.com/console/%' LIMIT 1")
            .await?;
    let old_webhook = id("SELECT id FROM webhooks WHERE url = 'https://example.com/old'").await?;
    let failed = id("SELECT id FROM deliveries WHERE status = 'failed' LIMIT 1").await?;
    let h = Hookrelay::start(
        binary,
        url,
        &[
            ("HOOKRELAY_WORKERS", "0"),
            ("HOOKRELAY_API_TOKENS", "bench-token"),
        ],
    )
    .await?;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let cookie = sign_in(&http, &h.address, "console", "bench-token").await?;
    // The portal of tenant bench, which holds every webhook here: the
    // tenant's own statements, on the same rows (default has no portal).
    let link: Value = serde_json::from_slice(
        &http
            .post(format!("{}/tenants/bench/portal", h.address))
            .bearer_auth("bench-token")
            .header("Content-Type", "application/json")
            .body("{}")
            .send()
            .await?
            .bytes()
            .await?,
    )?;
    let portal_token = link["token"].as_str().ok_or("no portal token")?.to_owned();
    let portal = sign_in(&http, &h.address, "portal", &portal_token).await?;
    let pages: Vec<(&'static str, String)> = vec![
        ("overview", "/console".to_owned()),
        ("webhooks", "/console/webhooks".to_owned()),
        (
            "webhook (5M deliveries)",
            format!("/console/webhooks/{old_webhook}"),
        ),
        (
            "webhook (busy this hour)",
            format!("/console/webhooks/{busy_webhook}"),
        ),
        ("deliveries", "/console/deliveries".to_owned()),
        (
            "deliveries failed",
            "/console/deliveries?status=failed".to_owned(),
        ),
        (
            "deliveries of a rare type",
            "/console/deliveries?event_type=bench.rare".to_owned(),
        ),
        (
            "deliveries of a webhook, last day",
            format!(
                "/console/deliveries?webhook_id={old_webhook}&created_after={}",
                (chrono::Utc::now() - chrono::Duration::days(2)).format("%Y-%m-%dT%H:%M")
            ),
        ),
        ("delivery", format!("/console/deliveries/{failed}")),
        ("dead letters", "/console/dead-letters".to_owned()),
        (
            "dead letters of a tenant",
            "/console/dead-letters?tenant=bench".to_owned(),
        ),
        ("tenants", "/console/tenants".to_owned()),
        ("new webhook", "/console/webhooks/new".to_owned()),
        ("event types", "/console/event-types".to_owned()),
        ("portal overview", "/portal".to_owned()),
        ("portal deliveries", "/portal/deliveries".to_owned()),
        ("portal dead letters", "/portal/dead-letters".to_owned()),
        ("portal event types", "/portal/event-types".to_owned()),
    ];
    let mut out = Vec::new();
    for (name, path) in pages {
        let mut ms = Vec::with_capacity(requests);
        for i in 0..requests + 5 {
            let started = Instant::now();
            let session = if path.starts_with("/portal") {
                &portal
            } else {
                &cookie
            };
            let r = http
                .get(format!("{}{path}", h.address))
                .header("cookie", session)
                .send()
                .await?;
            let status = r.status();
            r.bytes().await?;
            if status != 200 {
                return Err(format!("console {path} answered {status}").into());
            }
            // The first few warm the connection and the statement caches.
            if i >= 5 {
                ms.push(started.elapsed().as_secs_f64() * 1000.0);
            }
        }
        ms.sort_by(f64::total_cmp);
        let at = |q: f64| ms[((ms.len() as f64 * q) as usize).min(ms.len() - 1)];
        out.push((name, (at(0.50), at(0.95))));
    }
    h.stop();
    Ok(out)
}

/// Signs in to the console or the portal (`area`) with `token`, as a browser
/// would; returns the session cookie.
async fn sign_in(
    http: &reqwest::Client,
    address: &str,
    area: &str,
    token: &str,
) -> BenchResult<String> {
    let form = http.get(format!("{address}/{area}/sign-in")).send().await?;
    let pair = |r: &reqwest::Response, name: &str| {
        r.headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or("").to_owned())
            .find(|c| c.starts_with(&format!("{name}=")))
    };
    let sign_in_cookie = pair(&form, "hookrelay_sign_in").ok_or("no sign-in cookie")?;
    let field = sign_in_cookie
        .split_once('=')
        .map(|(_, v)| v.to_owned())
        .unwrap_or_default();
    let answer = http
        .post(format!("{address}/{area}/sign-in"))
        .header("cookie", &sign_in_cookie)
        .form(&[("csrf", field.as_str()), ("token", token)])
        .send()
        .await?;
    pair(&answer, &format!("hookrelay_{area}"))
        .ok_or_else(|| format!("the {area} refused the bench's token").into())
}
