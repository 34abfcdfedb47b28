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
//!
//! This file holds the command line, the sizes of a run (`Plan`), the order the
//! scenarios run in and the results table. Each scenario is a module of its
//! own; `postgres`, `hookrelay`, `receiver` and `support` are what they share.

mod ceiling;
mod console;
mod drain;
mod failing;
mod fanout;
mod hookrelay;
mod idle;
mod ingest;
mod postgres;
mod receiver;
mod scheduling;
mod steady;
mod support;
mod tenants;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use serde_json::{json, Value};

use ceiling::ceiling;
use console::{console, fill_recent};
use drain::{big_table, drain, drain_on};
use failing::failing;
use fanout::fanout;
use idle::idle;
use ingest::{ingest, ingest_orders};
use postgres::{connect, Postgres};
use receiver::Receiver;
use scheduling::{ordered, paused_backlog, rate_limited_backlog};
use steady::steady;
use support::BenchResult;
use tenants::{tenant_backlog, tenants};

#[derive(Parser)]
#[command(
    about = "Measure hookrelay's ingest, drain, latency, fan-out and footprint on this machine"
)]
struct Args {
    /// Small sizes and one repeat, for CI: proves the benchmark runs, measures little.
    #[arg(long)]
    quick: bool,
    /// Run only these scenarios (comma-separated: ceiling, ingest, ingest-validated,
    /// drain, steady, fanout, failing, tenants, tenant-backlog, ordered, ordered-one-key,
    /// rate-limited-backlog, paused-backlog, big-table, console, idle).
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
    /// Events of `ordered, one key`, all in one sequence.
    one_key_events: usize,
    /// Due at the rate-limited webhook of `rate-limited backlog`.
    limited_backlog: usize,
    /// Due at the paused webhook of `paused backlog`.
    paused_backlog: i64,
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
                one_key_events: 100,
                limited_backlog: 2_000,
                paused_backlog: 10_000,
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
                one_key_events: 2_000,
                limited_backlog: 100_000,
                paused_backlog: 1_000_000,
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
        if args.wants("ordered") {
            eprintln!("ordered: 1,000 keys");
            let rate = ordered(&binary, &server, &receiver, plan.backlog, 1000, "/ok").await?;
            results.add("ordered", "deliveries/s", rate);
        }
        if args.wants("ordered-one-key") {
            eprintln!("ordered, one key: a receiver that answers in 1 ms");
            let rate = ordered(&binary, &server, &receiver, plan.one_key_events, 1, "/ms").await?;
            results.add("ordered, one key", "deliveries/s", rate);
        }
        if args.wants("rate-limited-backlog") {
            eprintln!("rate-limited backlog: 1,000/s beside an unlimited webhook");
            let (share, rate) = rate_limited_backlog(
                &binary,
                &server,
                &receiver,
                plan.limited_backlog,
                plan.backlog,
            )
            .await?;
            results.add("rate-limited backlog, limited", "% of limit", share);
            results.add("rate-limited backlog, unlimited", "deliveries/s", rate);
        }
        if args.wants("paused-backlog") {
            eprintln!(
                "paused backlog: {} due at a paused webhook",
                plan.paused_backlog
            );
            let rate = paused_backlog(
                &binary,
                &server,
                &receiver,
                plan.paused_backlog,
                plan.backlog,
            )
            .await?;
            results.add("paused backlog, the other's drain", "deliveries/s", rate);
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
