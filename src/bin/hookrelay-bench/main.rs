//! `hookrelay-bench`: how fast hookrelay is on this machine, measured end to end.
//!
//! It starts a private Postgres (or uses `DATABASE_URL`), runs the release
//! `hookrelay` binary as a child process against a fresh database per scenario,
//! and drives it through the real API while an in-process receiver on 127.0.0.1
//! answers at once and notes when each delivery arrived. A child process, not
//! an in-process app, so its memory and CPU can be read from /proc on their own.
//!
//! Machines here are shared and noisy, so every figure is min/median/max over
//! repeats and throughput is also given as a ratio to the machine's ceiling: the
//! same receiver driven directly by this program's own client, signing each
//! body, with no hookrelay in between. `--quick` runs everything small enough
//! for CI; it asserts nothing about speed.

mod hookrelay;
mod postgres;
mod receiver;
mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ::hookrelay::delivery::sign;
use ::hookrelay::domain::Secret;
use clap::Parser;
use serde_json::{json, Value};

use crate::hookrelay::Hookrelay;
use crate::postgres::{connect, count_unfinished, settle, Postgres};
use crate::receiver::{Receiver, Wall};
use crate::support::{concurrently, wait_until, BenchResult};

#[derive(Parser)]
#[command(
    about = "Measure hookrelay's ingest, drain, latency, fan-out and footprint on this machine"
)]
struct Args {
    /// Small sizes and one repeat, for CI: proves the benchmark runs, measures little.
    #[arg(long)]
    quick: bool,
    /// Run only these scenarios (comma-separated: ceiling, ingest, ingest-validated,
    /// drain, steady, fanout, failing, tenants, tenant-backlog, big-table, console, idle).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Repeats of each scenario (default: 3, or 1 with --quick).
    #[arg(long)]
    repeats: Option<usize>,
    /// Where bench-results.json and bench-results.md go.
    #[arg(long, default_value = "target/bench")]
    out: PathBuf,
}

/// Sizes of one run.
struct Plan {
    repeats: usize,
    ingest_events: usize,
    backlog: usize,
    steady_secs: u64,
    fanout_events: usize,
    tenants: usize,
    big_table_rows: i64,
    /// Deliveries of the last hour the console scenario adds to the big table.
    console_recent: i64,
    /// Requests per console page and repeat.
    console_requests: usize,
    idle_secs: u64,
}

impl Plan {
    fn new(quick: bool) -> Plan {
        if quick {
            Plan {
                repeats: 1,
                ingest_events: 2_000,
                backlog: 2_000,
                steady_secs: 1,
                fanout_events: 40,
                tenants: 100,
                big_table_rows: 50_000,
                console_recent: 2_000,
                console_requests: 20,
                idle_secs: 1,
            }
        } else {
            Plan {
                repeats: 3,
                ingest_events: 30_000,
                backlog: 100_000,
                steady_secs: 5,
                fanout_events: 400,
                tenants: 10_000,
                big_table_rows: 5_000_000,
                console_recent: 100_000,
                console_requests: 200,
                idle_secs: 5,
            }
        }
    }
}

impl Args {
    fn wants(&self, scenario: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|s| s == scenario)
    }
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    match run(&args).await {
        Ok(report) => println!("{report}"),
        Err(e) => {
            let mut message = e.to_string();
            let mut source = std::error::Error::source(&*e);
            while let Some(s) = source {
                message.push_str(&format!(": {s}"));
                source = s.source();
            }
            eprintln!("hookrelay-bench: {message}");
            std::process::exit(1);
        }
    }
}

async fn run(args: &Args) -> BenchResult<String> {
    let mut plan = Plan::new(args.quick);
    if let Some(r) = args.repeats {
        plan.repeats = r.max(1);
    }
    let binary = std::env::current_exe()?.with_file_name("hookrelay");
    if !binary.exists() {
        return Err(format!(
            "{} is missing: run `cargo build --release` first",
            binary.display()
        )
        .into());
    }
    let server = Postgres::start()?;
    let receiver = Receiver::start()?;
    let mut results = Results::default();

    if args.wants("ceiling") {
        eprintln!("ceiling: the receiver driven directly");
        for _ in 0..plan.repeats {
            let run_for = Duration::from_secs(plan.steady_secs.max(2));
            results.add("ceiling", "requests/s", ceiling(&receiver, run_for).await?);
        }
    }
    for _ in 0..plan.repeats {
        if args.wants("ingest") {
            eprintln!("ingest");
            let (rate, rss) = ingest(&binary, &server, &receiver, plan.ingest_events).await?;
            results.add("ingest", "events/s", rate);
            results.add("ingest peak RSS", "MiB", rss);
        }
        if args.wants("ingest-validated") {
            eprintln!("ingest-validated");
            // Its payloads are larger than ingest's: the same without the
            // schema tells what the schema itself costs.
            let (rate, _) =
                ingest_orders(&binary, &server, &receiver, plan.ingest_events, false).await?;
            results.add("ingest-validated, no schema", "events/s", rate);
            let (rate, rss) =
                ingest_orders(&binary, &server, &receiver, plan.ingest_events, true).await?;
            results.add("ingest-validated", "events/s", rate);
            results.add("ingest-validated peak RSS", "MiB", rss);
        }
        if args.wants("drain") {
            eprintln!("drain");
            let (rate, rss) = drain(&binary, &server, &receiver, plan.backlog).await?;
            results.add("drain", "deliveries/s", rate);
            results.add("drain peak RSS", "MiB", rss);
        }
        if args.wants("steady") {
            eprintln!("steady");
            for (rate, p, accepted) in steady(&binary, &server, &receiver, plan.steady_secs).await?
            {
                results.add(&format!("steady {rate}/s accepted"), "events/s", accepted);
                for (name, value) in [("p50", p.0), ("p95", p.1), ("p99", p.2)] {
                    results.add(&format!("steady {rate}/s {name}"), "ms", value);
                }
            }
        }
        if args.wants("fanout") {
            eprintln!("fanout");
            let rate = fanout(&binary, &server, &receiver, plan.fanout_events).await?;
            results.add("fanout", "deliveries/s", rate);
        }
        if args.wants("failing") {
            eprintln!("failing");
            let rate = failing(&binary, &server, &receiver, plan.backlog).await?;
            results.add("failing (healthy half)", "deliveries/s", rate);
        }
        if args.wants("tenants") {
            eprintln!("tenants: {} of them, two webhooks each", plan.tenants);
            let (ingested, drained) = tenants(&binary, &server, &receiver, &plan).await?;
            results.add("tenants ingest", "events/s", ingested);
            results.add("tenants drain", "deliveries/s", drained);
        }
        if args.wants("tenant-backlog") {
            eprintln!("tenant-backlog: 50 slow webhooks of one tenant, 100 events/s for another");
            let (p, _) = tenant_backlog(&binary, &server, &receiver, plan.steady_secs).await?;
            for (name, value) in [("p50", p.0), ("p95", p.1), ("p99", p.2)] {
                results.add(&format!("tenant-backlog 100/s {name}"), "ms", value);
            }
        }
    }
    // One database filled once, shared by big-table and console.
    let mut big: Option<String> = None;
    // Console first: big-table's drains would add their backlogs to the last
    // hour that the overview counts.
    if args.wants("console") {
        eprintln!(
            "console: every page on {} finished deliveries and {} of the last hour",
            plan.big_table_rows, plan.console_recent
        );
        let big = big_table(&binary, &server, plan.big_table_rows, &mut big).await?;
        fill_recent(&connect(&big).await?, plan.console_recent).await?;
        for _ in 0..plan.repeats {
            for (page, (p50, p95)) in console(&binary, &big, plan.console_requests).await? {
                results.add(&format!("console {page} p50"), "ms", p50);
                results.add(&format!("console {page} p95"), "ms", p95);
            }
        }
    }
    if args.wants("big-table") {
        eprintln!(
            "big-table: {} completed deliveries first",
            plan.big_table_rows
        );
        let big = big_table(&binary, &server, plan.big_table_rows, &mut big).await?;
        // Each repeat drains a new backlog on top of it.
        for _ in 0..plan.repeats {
            let (rate, _) = drain_on(&binary, &big, &receiver, plan.backlog).await?;
            results.add("big-table drain", "deliveries/s", rate);
        }
    }
    if args.wants("idle") {
        eprintln!("idle");
        let (cpu, qps) = idle(&binary, &server, Duration::from_secs(plan.idle_secs)).await?;
        results.add("idle CPU", "% of a core", cpu);
        results.add("idle queries", "per s", qps);
    }

    let report = results.markdown(args);
    std::fs::create_dir_all(&args.out)?;
    std::fs::write(args.out.join("bench-results.md"), &report)?;
    std::fs::write(
        args.out.join("bench-results.json"),
        serde_json::to_string_pretty(&results.json(args))?,
    )?;
    drop(server);
    Ok(report)
}

// ---------------------------------------------------------------------------
// Results

#[derive(Default)]
struct Results {
    order: Vec<String>,
    samples: HashMap<String, (String, Vec<f64>)>,
}

impl Results {
    fn add(&mut self, name: &str, unit: &str, value: f64) {
        if !self.samples.contains_key(name) {
            self.order.push(name.to_owned());
        }
        self.samples
            .entry(name.to_owned())
            .or_insert_with(|| (unit.to_owned(), Vec::new()))
            .1
            .push(value);
    }

    fn stats(&self, name: &str) -> Option<(f64, f64, f64)> {
        let (_, v) = self.samples.get(name)?;
        let mut v = v.clone();
        v.sort_by(f64::total_cmp);
        Some((*v.first()?, v[v.len() / 2], *v.last()?))
    }

    fn ceiling(&self) -> Option<f64> {
        self.stats("ceiling").map(|s| s.1)
    }

    fn markdown(&self, args: &Args) -> String {
        let mut out = format!(
            "## hookrelay-bench{}\n\n{} · {} cores · {} GiB · `cargo run --release --bin hookrelay-bench{}`\n\n\
             | figure | unit | min | median | max | median / ceiling |\n| --- | --- | ---: | ---: | ---: | ---: |\n",
            if args.quick { " --quick" } else { "" },
            chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            memory_gib(),
            if args.quick { " -- --quick" } else { "" },
        );
        for name in &self.order {
            let (unit, _) = &self.samples[name];
            let Some((min, median, max)) = self.stats(name) else {
                continue;
            };
            let ratio = match (unit.ends_with("/s"), self.ceiling()) {
                (true, Some(c)) if name != "ceiling" && c > 0.0 => format!("{:.2}", median / c),
                _ => String::new(),
            };
            out.push_str(&format!(
                "| {name} | {unit} | {min:.1} | {median:.1} | {max:.1} | {ratio} |\n"
            ));
        }
        out
    }

    fn json(&self, args: &Args) -> Value {
        let figures: Vec<Value> = self
            .order
            .iter()
            .filter_map(|name| {
                let (unit, samples) = &self.samples[name];
                let (min, median, max) = self.stats(name)?;
                Some(json!({"name": name, "unit": unit, "samples": samples, "min": min, "median": median, "max": max}))
            })
            .collect();
        json!({
            "quick": args.quick,
            "date": chrono::Utc::now().to_rfc3339(),
            "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            "ceiling_requests_per_s": self.ceiling(),
            "figures": figures,
        })
    }
}

fn memory_gib() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| (kb + (1 << 19)) >> 20)
}

// ---------------------------------------------------------------------------
// Scenarios

/// The machine's ceiling: 64 clients POST signed bodies straight to the receiver.
async fn ceiling(receiver: &Receiver, run_for: Duration) -> BenchResult<f64> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let done = Arc::new(AtomicUsize::new(0));
    let until = Instant::now() + run_for;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let (http, done, url) = (http.clone(), done.clone(), format!("{}/ok", receiver.base));
        tasks.push(tokio::spawn(async move {
            // Signed the way hookrelay signs, with its own code.
            let secret = Secret::generate();
            while Instant::now() < until {
                let body = serde_json::to_vec(&json!({"seq": u64::MAX, "pad": "ceiling"}))
                    .map_err(|e| e.to_string())?;
                let id = uuid::Uuid::new_v4().to_string();
                let ts = chrono::Utc::now().timestamp();
                http.post(&url)
                    .header("X-Webhook-Signature", sign::hex_signature(&secret, &body))
                    .header(
                        "webhook-signature",
                        sign::standard_signature(&[&secret], &id, ts, &body),
                    )
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                done.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<(), String>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    receiver.reset();
    Ok(done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
}

/// Events/s accepted by POST /events, 64 clients, one matching webhook, no workers.
async fn ingest(
    binary: &Path,
    server: &Postgres,
    receiver: &Receiver,
    events: usize,
) -> BenchResult<(f64, f64)> {
    let url = server.fresh().await?;
    let h = Arc::new(Hookrelay::start(binary, &url, &[("HOOKRELAY_WORKERS", "0")]).await?);
    h.webhook(&format!("{}/ok", receiver.base), &["bench.ingest"])
        .await?;
    settle(&url).await;
    let started = Instant::now();
    h.emit_many("bench.ingest", events, 64).await?;
    let rate = events as f64 / started.elapsed().as_secs_f64();
    Ok((rate, h.peak_rss_mib()))
}

/// `ingest` with orders for payloads (`order`), and `with_schema`, a schema in
/// the catalog for their type that each is checked against.
async fn ingest_orders(
    binary: &Path,
    server: &Postgres,
    receiver: &Receiver,
    events: usize,
    with_schema: bool,
) -> BenchResult<(f64, f64)> {
    let url = server.fresh().await?;
    let h = Arc::new(Hookrelay::start(binary, &url, &[("HOOKRELAY_WORKERS", "0")]).await?);
    h.webhook(&format!("{}/ok", receiver.base), &["bench.order"])
        .await?;
    // Without the schema the type is in the catalog all the same.
    let schema = if with_schema {
        order_schema()
    } else {
        Value::Null
    };
    let (status, body) = h
        .put("/event-types/bench.order", &json!({"schema": schema}))
        .await?;
    if status != 201 {
        return Err(format!("adding the event type answered {status}: {body}").into());
    }
    settle(&url).await;
    let started = Instant::now();
    h.emit_many_with("bench.order", events, 64, order).await?;
    let rate = events as f64 / started.elapsed().as_secs_f64();
    Ok((rate, h.peak_rss_mib()))
}

/// A typical event schema: an object of typed properties, some required, and
/// an array of objects.
fn order_schema() -> Value {
    json!({
        "type": "object",
        "required": ["order_id", "customer_id", "currency", "total", "items"],
        "properties": {
            "order_id": {"type": "integer", "minimum": 0},
            "customer_id": {"type": "string", "minLength": 1},
            "currency": {"type": "string", "enum": ["EUR", "GBP", "USD"]},
            "total": {"type": "number", "minimum": 0},
            "placed_at": {"type": "string"},
            "express": {"type": "boolean"},
            "items": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["sku", "quantity", "price"],
                    "properties": {
                        "sku": {"type": "string"},
                        "quantity": {"type": "integer", "minimum": 1},
                        "price": {"type": "number", "minimum": 0}
                    }
                }
            }
        }
    })
}

/// An order that `order_schema` accepts; its id is the sequence number.
fn order(seq: usize) -> Value {
    json!({
        "order_id": seq,
        "customer_id": "cus_8f2k1",
        "currency": "EUR",
        "total": 59.97,
        "placed_at": "2026-11-29T12:00:00Z",
        "express": false,
        "items": [
            {"sku": "tea-green-100g", "quantity": 2, "price": 9.99},
            {"sku": "mug-white", "quantity": 1, "price": 39.99}
        ]
    })
}

/// Deliveries/s draining a backlog made through the API by a process with no
/// workers; with `completed_rows` finished deliveries in the table first.
async fn drain(
    binary: &Path,
    server: &Postgres,
    receiver: &Receiver,
    backlog: usize,
) -> BenchResult<(f64, f64)> {
    drain_on(binary, &server.fresh().await?, receiver, backlog).await
}

/// `drain` on a given database, which may already hold history.
async fn drain_on(
    binary: &Path,
    url: &str,
    receiver: &Receiver,
    backlog: usize,
) -> BenchResult<(f64, f64)> {
    let db = connect(url).await?;
    // A type of its own, so the webhooks of earlier repeats on this database do
    // not receive this backlog too.
    let event_type = format!("bench.drain.{}", uuid::Uuid::new_v4().simple());
    {
        let api = Arc::new(Hookrelay::start(binary, url, &[("HOOKRELAY_WORKERS", "0")]).await?);
        api.webhook(&format!("{}/ok", receiver.base), &[&event_type])
            .await?;
        api.emit_many(&event_type, backlog, 64).await?;
        if let Ok(api) = Arc::try_unwrap(api) {
            api.stop();
        }
    }
    receiver.reset();
    let started = Instant::now();
    let h = Hookrelay::start(binary, url, &[]).await?;
    wait_until("the backlog to drain", Duration::from_secs(600), || async {
        Ok(receiver.count() >= backlog && count_unfinished(&db).await? == 0)
    })
    .await?;
    let rate = backlog as f64 / started.elapsed().as_secs_f64();
    let rss = h.peak_rss_mib();
    h.stop();
    Ok((rate, rss))
}

/// The database of big-table and console: migrated and filled on first use.
async fn big_table(
    binary: &Path,
    server: &Postgres,
    rows: i64,
    big: &mut Option<String>,
) -> BenchResult<String> {
    if let Some(url) = big {
        return Ok(url.clone());
    }
    let url = server.fresh().await?;
    let migrated = Command::new(binary)
        .arg("migrate")
        .env("DATABASE_URL", &url)
        .env("RUST_LOG", "error")
        .status()?;
    if !migrated.success() {
        return Err("hookrelay migrate failed".into());
    }
    fill_completed(&connect(&url).await?, rows).await?;
    *big = Some(url.clone());
    Ok(url)
}

/// The last hour as a busy console sees it, on top of the big table: `rows`
/// deliveries over 20 webhooks, each with its attempt, one in twenty of them
/// dead letters; and a rare event type, to filter by.
async fn fill_recent(db: &tokio_postgres::Client, rows: i64) -> BenchResult<()> {
    db.batch_execute(&format!(
        "INSERT INTO webhooks (id, url, event_types, secret)
         SELECT uuid_v7(), 'https://example.com/console/' || n, '{{bench.console,bench.rare}}',
                'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'
         FROM generate_series(1, 20) n;
         WITH w AS (SELECT array_agg(id) AS ids FROM webhooks WHERE url LIKE 'https://example.com/console/%'),
         src AS MATERIALIZED (
             SELECT uuid_v7() AS id, n, now() - random() * interval '1 hour' AS at,
                    CASE WHEN random() < 0.05 THEN 'failed' ELSE 'success' END AS status,
                    1 + floor(random() * 20)::int AS hook
             FROM generate_series(1, {rows}) n),
         e AS (
             INSERT INTO events (id, type, payload, created_at)
             SELECT id, CASE WHEN n % 5000 = 0 THEN 'bench.rare' ELSE 'bench.console' END,
                    jsonb_build_object('n', n), at
             FROM src),
         d AS (
             INSERT INTO deliveries (id, webhook_id, event_id, status, attempts, last_status_code,
                                     last_error, created_at, updated_at, completed_at)
             SELECT uuid_v7(), w.ids[src.hook], src.id, src.status, 1,
                    CASE src.status WHEN 'success' THEN 200 ELSE 500 END,
                    CASE src.status WHEN 'failed' THEN 'retry budget spent' END,
                    src.at, src.at, src.at + interval '40 ms'
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
async fn console(
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
    // The portal of tenant default, which holds every webhook here: the
    // tenant's own statements, on the same rows.
    let link: Value = serde_json::from_slice(
        &http
            .post(format!("{}/tenants/default/portal", h.address))
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
        ("portal overview", "/portal".to_owned()),
        ("portal deliveries", "/portal/deliveries".to_owned()),
        ("portal dead letters", "/portal/dead-letters".to_owned()),
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

/// Finished deliveries, as months of history would leave them.
async fn fill_completed(db: &tokio_postgres::Client, rows: i64) -> BenchResult<()> {
    db.batch_execute(&format!(
        "INSERT INTO webhooks (id, url, event_types, secret) VALUES ('00000000-0000-0000-0000-000000000001', 'https://example.com/old', '{{old}}', 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
         INSERT INTO events (id, type, payload) VALUES ('00000000-0000-0000-0000-000000000002', 'old', '{{}}');
         INSERT INTO deliveries (id, webhook_id, event_id, status, attempts, completed_at, last_status_code, created_at)
         SELECT uuid_v7(), '00000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-000000000002',
                'success', 1, now() - interval '1 day', 200, now() - interval '1 day' - n * interval '1 ms'
         FROM generate_series(1, {rows}) n;"
    ))
    .await?;
    db.batch_execute("VACUUM ANALYZE deliveries").await?;
    Ok(())
}

/// End-to-end latency percentiles at fixed offered rates (open loop).
async fn steady(
    binary: &Path,
    server: &Postgres,
    receiver: &Receiver,
    secs: u64,
) -> BenchResult<Vec<(u32, (f64, f64, f64), f64)>> {
    let url = server.fresh().await?;
    let h = Arc::new(Hookrelay::start(binary, &url, &[]).await?);
    h.webhook(&format!("{}/ok", receiver.base), &["bench.steady"])
        .await?;
    let mut out = Vec::new();
    let mut seq_base = 0u64;
    for rate in [100u32, 1_000, 5_000] {
        let (p, accepted) = latency_at(
            &h,
            receiver,
            rate,
            secs,
            seq_base,
            |seq| json!({"type": "bench.steady", "payload": {"seq": seq}}),
        )
        .await?;
        out.push((rate, p, accepted));
        seq_base += u64::from(rate) * secs;
    }
    Ok(out)
}

/// Latency percentiles (ms) of `rate` events/s offered open-loop for `secs`,
/// the body of each made by `body(seq)` with sequence numbers from `seq_base`,
/// and the rate hookrelay accepted (beyond its capacity it answers 503, the
/// database pool exhausted, rather than queue without bound).
async fn latency_at(
    h: &Arc<Hookrelay>,
    receiver: &Receiver,
    rate: u32,
    secs: u64,
    seq_base: u64,
    body: fn(u64) -> Value,
) -> BenchResult<((f64, f64, f64), f64)> {
    receiver.reset();
    let total = u64::from(rate) * secs;
    let accepted: Arc<Mutex<HashMap<u64, Wall>>> = Arc::default();
    let per_tick = u64::from(rate / 1000).max(1);
    let tick = Duration::from_micros(1_000_000 * per_tick / u64::from(rate));
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::new();
    let mut sent = 0;
    while sent < total {
        interval.tick().await;
        for _ in 0..per_tick.min(total - sent) {
            let (h, accepted, seq) = (h.clone(), accepted.clone(), seq_base + sent);
            tasks.push(tokio::spawn(async move {
                if let Ok((201, event)) = h.post("/events", &body(seq)).await {
                    let created = event["created_at"]
                        .as_str()
                        .and_then(|t| t.parse::<Wall>().ok());
                    if let (Some(created), Ok(mut a)) = (created, accepted.lock()) {
                        a.insert(seq, created);
                    }
                }
            }));
            sent += 1;
        }
    }
    for t in tasks {
        let _ = t.await;
    }
    let expected = accepted.lock().map(|a| a.len()).unwrap_or(0);
    wait_until("timed deliveries", Duration::from_secs(120), || async {
        Ok(receiver.count() >= expected)
    })
    .await?;
    let mut latencies: Vec<f64> = {
        let accepted = accepted.lock().map_err(|_| "lock")?;
        let arrived = receiver.arrived.lock().map_err(|_| "lock")?;
        accepted
            .iter()
            .filter_map(|(seq, at)| {
                arrived
                    .get(seq)
                    .map(|got| (*got - *at).num_microseconds().unwrap_or(0) as f64 / 1000.0)
            })
            .collect()
    };
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(f64::NAN)
    };
    Ok((
        (pct(0.50), pct(0.95), pct(0.99)),
        expected as f64 / secs as f64,
    ))
}

/// `plan.tenants` tenants with two webhooks each, events spread evenly over
/// them: the events/s accepted, then the deliveries/s of draining a backlog of
/// `plan.backlog`. The two webhooks of a tenant take different types and
/// events alternate between them, so each event makes one delivery, as in
/// `ingest` and `drain`: what differs is only the number of tenants and webhooks.
async fn tenants(
    binary: &Path,
    server: &Postgres,
    receiver: &Receiver,
    plan: &Plan,
) -> BenchResult<(f64, f64)> {
    let url = server.fresh().await?;
    let db = connect(&url).await?;
    let count = plan.tenants;
    let ingested = {
        let api = Arc::new(Hookrelay::start(binary, &url, &[("HOOKRELAY_WORKERS", "0")]).await?);
        let target = format!("{}/ok", receiver.base);
        concurrently(count, 64, {
            let api = api.clone();
            move |i| {
                let (api, target) = (api.clone(), target.clone());
                async move {
                    let key = format!("t{i:05}");
                    let (status, body) = api.put(&format!("/tenants/{key}"), &json!({})).await?;
                    if status != 201 {
                        return Err(format!("PUT /tenants/{key} answered {status}: {body}").into());
                    }
                    for event_type in ["bench.tenant.a", "bench.tenant.b"] {
                        let webhook =
                            json!({"url": target, "event_types": [event_type], "tenant": key});
                        let (status, body) = api.post("/webhooks", &webhook).await?;
                        if status != 201 {
                            return Err(
                                format!("creating a webhook answered {status}: {body}").into()
                            );
                        }
                    }
                    Ok(())
                }
            }
        })
        .await?;
        let body = move |seq: usize| {
            let kind = if (seq / count).is_multiple_of(2) {
                "a"
            } else {
                "b"
            };
            json!({"type": format!("bench.tenant.{kind}"), "tenant": format!("t{:05}", seq % count),
                   "payload": {"seq": seq}})
        };
        settle(&url).await;
        let started = Instant::now();
        api.emit_bodies(plan.ingest_events, 64, body).await?;
        let ingested = plan.ingest_events as f64 / started.elapsed().as_secs_f64();
        // The rest of the backlog, made the same way.
        let rest = plan.backlog.saturating_sub(plan.ingest_events);
        let offset = plan.ingest_events;
        api.emit_bodies(rest, 64, move |seq| body(seq + offset))
            .await?;
        if let Ok(api) = Arc::try_unwrap(api) {
            api.stop();
        }
        ingested
    };
    let backlog = plan.backlog.max(plan.ingest_events);
    receiver.reset();
    let started = Instant::now();
    let h = Hookrelay::start(binary, &url, &[]).await?;
    wait_until(
        "the tenants' backlog to drain",
        Duration::from_secs(600),
        || async { Ok(receiver.count() >= backlog && count_unfinished(&db).await? == 0) },
    )
    .await?;
    let drained = backlog as f64 / started.elapsed().as_secs_f64();
    h.stop();
    Ok((ingested, drained))
}

/// A tenant whose 50 webhooks all have a backlog at a receiver that takes a
/// quarter of a second per delivery, and another tenant's events at 100/s
/// meanwhile: their latency percentiles, to set beside `steady 100/s`, and the
/// rate accepted. One customer's slow endpoints should not slow the others.
async fn tenant_backlog(
    binary: &Path,
    server: &Postgres,
    receiver: &Receiver,
    secs: u64,
) -> BenchResult<((f64, f64, f64), f64)> {
    let url = server.fresh().await?;
    let h = Arc::new(Hookrelay::start(binary, &url, &[]).await?);
    for key in ["busy", "calm"] {
        let (status, body) = h.put(&format!("/tenants/{key}"), &json!({})).await?;
        if status != 201 {
            return Err(format!("PUT /tenants/{key} answered {status}: {body}").into());
        }
    }
    for _ in 0..50 {
        let webhook = json!({"url": format!("{}/slow", receiver.base),
                             "event_types": ["bench.busy"], "tenant": "busy"});
        let (status, body) = h.post("/webhooks", &webhook).await?;
        if status != 201 {
            return Err(format!("creating a webhook answered {status}: {body}").into());
        }
    }
    let webhook = json!({"url": format!("{}/ok", receiver.base),
                         "event_types": ["bench.calm"], "tenant": "calm"});
    let (status, body) = h.post("/webhooks", &webhook).await?;
    if status != 201 {
        return Err(format!("creating a webhook answered {status}: {body}").into());
    }
    // 200 events for 50 webhooks: 10,000 deliveries, far more than the
    // workers can send in the measured window at a quarter second each.
    h.emit_bodies(
        200,
        8,
        |_| json!({"type": "bench.busy", "tenant": "busy", "payload": {"backlog": true}}),
    )
    .await?;
    latency_at(
        &h,
        receiver,
        100,
        secs,
        0,
        |seq| json!({"type": "bench.calm", "tenant": "calm", "payload": {"seq": seq}}),
    )
    .await
}

/// One event type, 50 webhooks: deliveries/s from the first emit to the last arrival.
async fn fanout(
    binary: &Path,
    server: &Postgres,
    receiver: &Receiver,
    events: usize,
) -> BenchResult<f64> {
    let url = server.fresh().await?;
    let db = connect(&url).await?;
    let h = Arc::new(Hookrelay::start(binary, &url, &[]).await?);
    for _ in 0..50 {
        h.webhook(&format!("{}/ok", receiver.base), &["bench.fanout"])
            .await?;
    }
    receiver.reset();
    let expected = events * 50;
    let started = Instant::now();
    h.emit_many("bench.fanout", events, 8).await?;
    wait_until("fan-out deliveries", Duration::from_secs(600), || async {
        Ok(receiver.count() >= expected && count_unfinished(&db).await? == 0)
    })
    .await?;
    Ok(expected as f64 / started.elapsed().as_secs_f64())
}

/// Half the webhooks answer 500: deliveries/s of the healthy half.
async fn failing(
    binary: &Path,
    server: &Postgres,
    receiver: &Receiver,
    backlog: usize,
) -> BenchResult<f64> {
    let url = server.fresh().await?;
    {
        let api = Arc::new(Hookrelay::start(binary, &url, &[("HOOKRELAY_WORKERS", "0")]).await?);
        for i in 0..10 {
            let path = if i % 2 == 0 { "ok" } else { "fail" };
            api.webhook(&format!("{}/{path}", receiver.base), &["bench.failing"])
                .await?;
        }
        api.emit_many("bench.failing", backlog / 10, 64).await?;
        if let Ok(api) = Arc::try_unwrap(api) {
            api.stop();
        }
    }
    receiver.reset();
    let healthy = backlog / 2;
    let started = Instant::now();
    let _h = Hookrelay::start(
        binary,
        &url,
        &[(
            "HOOKRELAY_RETRY_SCHEDULE",
            "200ms,400ms,800ms,1600ms,3200ms",
        )],
    )
    .await?;
    wait_until("the healthy half", Duration::from_secs(600), || async {
        Ok(receiver.count() >= healthy)
    })
    .await?;
    Ok(healthy as f64 / started.elapsed().as_secs_f64())
}

/// CPU share and queries per second of a hookrelay with nothing to do.
async fn idle(binary: &Path, server: &Postgres, run_for: Duration) -> BenchResult<(f64, f64)> {
    let url = server.fresh().await?;
    let db = connect(&url).await?;
    let h = Hookrelay::start(binary, &url, &[]).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let commits = || async {
        let row = db
            .query_one("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()", &[])
            .await?;
        Ok::<i64, tokio_postgres::Error>(row.get(0))
    };
    let (ticks, xacts, started) = (h.cpu_ticks(), commits().await?, Instant::now());
    tokio::time::sleep(run_for).await;
    let secs = started.elapsed().as_secs_f64();
    // pg_stat counters are flushed by backends about once a second: ask twice.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let cpu = (h.cpu_ticks() - ticks) as f64 / 100.0 / secs * 100.0;
    // Our own two counter queries count too; leave them out.
    let qps = ((commits().await? - xacts - 2).max(0) as f64) / (secs + 1.1);
    Ok((cpu, qps))
}
