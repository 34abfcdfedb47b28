//! Who goes next, seen from the receivers: limits that hold across processes
//! (`max_in_flight`, `rate_limit`), ordering keys through failures, and one
//! key's trouble holding up no other. Each receiver here records every
//! request's start and end, so the checks are about what really reached it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpResponse, HttpServer};
use serde_json::{json, Value};

use crate::helpers::{eventually, fresh_database, spawn_app_on, test_config, TestApp};

/// One request as the receiver saw it.
#[derive(Clone, Debug)]
struct Hit {
    key: String,
    seq: u64,
    start: Instant,
    end: Instant,
    status: u16,
}

type Answer = Arc<dyn Fn(&Value, usize) -> (u16, Duration) + Send + Sync>;

#[derive(Default)]
struct Log {
    hits: Vec<Hit>,
    /// Attempts per (key, seq) so far.
    tries: HashMap<(String, u64), usize>,
    now: usize,
    most: usize,
}

/// A receiver on 127.0.0.1 that answers each request as `answer` says for
/// its payload (`{"key", "seq"}`) and how many times that payload came
/// before, and records when each request started and ended.
struct Recorder {
    url: String,
    log: Arc<Mutex<Log>>,
}

impl Recorder {
    async fn start(
        answer: impl Fn(&Value, usize) -> (u16, Duration) + Send + Sync + 'static,
    ) -> Recorder {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let log: Arc<Mutex<Log>> = Arc::default();
        let answer: Answer = Arc::new(answer);
        let state = (log.clone(), answer);
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(state.clone()))
                .default_service(web::to(record))
        })
        .workers(2)
        .disable_signals()
        .shutdown_timeout(0)
        .listen(listener)
        .expect("listen")
        .run();
        tokio::spawn(server);
        Recorder {
            url: format!("http://127.0.0.1:{port}/hook"),
            log,
        }
    }

    fn hits(&self) -> Vec<Hit> {
        self.log.lock().expect("lock").hits.clone()
    }

    fn most_at_once(&self) -> usize {
        self.log.lock().expect("lock").most
    }

    fn successes(&self) -> usize {
        self.hits().iter().filter(|h| h.status < 300).count()
    }
}

async fn record(body: web::Bytes, state: web::Data<(Arc<Mutex<Log>>, Answer)>) -> HttpResponse {
    let (log, answer) = state.get_ref();
    let payload: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let key = payload["key"].as_str().unwrap_or("").to_owned();
    let seq = payload["seq"].as_u64().unwrap_or(0);
    let start = Instant::now();
    let before = {
        let mut log = log.lock().expect("lock");
        log.now += 1;
        log.most = log.most.max(log.now);
        let tries = log.tries.entry((key.clone(), seq)).or_default();
        *tries += 1;
        *tries - 1
    };
    let (status, delay) = answer(&payload, before);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    {
        let mut log = log.lock().expect("lock");
        log.now -= 1;
        log.hits.push(Hit {
            key,
            seq,
            start,
            end: Instant::now(),
            status,
        });
    }
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).expect("status")).finish()
}

async fn webhook(app: &TestApp, body: Value) -> String {
    let r = app.post("/webhooks", &body).await;
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    r.json::<Value>().await.expect("json")["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

async fn emit_keyed(app: &TestApp, key: Option<&str>, seq: u64) -> Value {
    let mut body = json!({"type": "a", "payload": {"key": key.unwrap_or(""), "seq": seq}});
    if let Some(k) = key {
        body["ordering_key"] = json!(k);
    }
    let r = app.post("/events", &body).await;
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    r.json().await.expect("json")
}

/// The most requests that started within any one second.
fn most_in_a_second(hits: &[Hit]) -> usize {
    let mut starts: Vec<Instant> = hits.iter().map(|h| h.start).collect();
    starts.sort();
    let mut most = 0;
    let mut first = 0;
    for (i, s) in starts.iter().enumerate() {
        while *s - starts[first] >= Duration::from_secs(1) {
            first += 1;
        }
        most = most.max(i - first + 1);
    }
    most
}

/// The stall that a claim's unreturned rate-limit slot caused: a process that
/// only takes events, a backlog of 200 at 5/s, and a second process with the
/// default workers, which must drain it at the limit (40 s), not stop.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rate_limited_backlog_drains_at_its_limit_from_another_process() {
    const EVENTS: u64 = 200;
    const RATE: u64 = 5;
    let mut config = test_config(fresh_database().await);
    config.workers = 0;
    let api = spawn_app_on(config.clone()).await;
    let receiver = Recorder::start(|_, _| (200, Duration::ZERO)).await;
    webhook(
        &api,
        json!({"url": receiver.url, "event_types": ["a"], "rate_limit": RATE}),
    )
    .await;
    for seq in 0..EVENTS {
        emit_keyed(&api, None, seq).await;
    }
    config.workers = 64;
    config.max_in_flight_per_webhook = 32;
    let _sender = spawn_app_on(config).await;
    let drained = eventually(Duration::from_secs(60), || async {
        receiver.successes() as u64 >= EVENTS
    })
    .await;
    let hits = receiver.hits();
    assert!(drained, "{} of {EVENTS} arrived", hits.len());
    let first = hits.iter().map(|h| h.start).min().expect("hits");
    let last = hits.iter().map(|h| h.start).max().expect("hits");
    let took = (last - first).as_secs_f64();
    let expected = (EVENTS - 1) as f64 / RATE as f64;
    assert!(
        (took - expected).abs() <= expected * 0.1,
        "{EVENTS} at {RATE}/s took {took:.1} s, expected about {expected:.0} s"
    );
    assert!(
        most_in_a_second(&hits) as u64 <= RATE,
        "a second held {}",
        most_in_a_second(&hits)
    );
}

/// `max_in_flight` is counted across processes: two processes and a receiver
/// that takes a second never see a third request at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn max_in_flight_holds_across_two_processes() {
    let config = test_config(fresh_database().await);
    let a = spawn_app_on(config.clone()).await;
    let _b = spawn_app_on(config).await;
    let receiver = Recorder::start(|_, _| (200, Duration::from_secs(1))).await;
    let id = webhook(
        &a,
        json!({"url": receiver.url, "event_types": ["a"], "max_in_flight": 2}),
    )
    .await;
    assert_eq!(
        a.get_json(&format!("/webhooks/{id}")).await["max_in_flight"],
        2
    );
    for seq in 0..8 {
        emit_keyed(&a, None, seq).await;
    }
    // While two are under way, the others say what holds them.
    let waiting = eventually(Duration::from_secs(5), || async {
        let page = a
            .get_json(&format!("/deliveries?webhook_id={id}&status=pending"))
            .await;
        page["data"]
            .as_array()
            .is_some_and(|d| d.iter().any(|d| d["waiting_for"] == "concurrency"))
    })
    .await;
    assert!(waiting, "no pending delivery waits for `concurrency`");
    assert!(
        eventually(Duration::from_secs(20), || async {
            receiver.successes() >= 8
        })
        .await,
        "only {} arrived",
        receiver.successes()
    );
    assert_eq!(
        receiver.most_at_once(),
        2,
        "at most two at once, and two did run together"
    );
}

/// A deterministic pseudo-random draw in [0, 1) from a seed and a few numbers.
pub(crate) fn draw(seed: u64, parts: &[u64]) -> f64 {
    let mut x = seed ^ 0x9E37_79B9_7F4A_7C15;
    for p in parts {
        x ^= p.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x = (x ^ (x >> 31)).wrapping_mul(0x94D0_49BB_1331_11EB);
        x ^= x >> 29;
    }
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// Per key, each delivery is attempted only after the one ahead of it
/// succeeded: its retries keep its place. The receiver answers 500 at random
/// (seeded; at most twice per delivery, so every one succeeds).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ordering_keys_hold_their_order_through_random_failures() {
    let seed: u64 = std::env::var("HOOKRELAY_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(7);
    println!("seed {seed}");
    let app = spawn_app_on(test_config(fresh_database().await)).await;
    let receiver = Recorder::start(move |p, before| {
        let key = p["key"].as_str().unwrap_or("").bytes().map(u64::from).sum();
        let seq = p["seq"].as_u64().unwrap_or(0);
        let fail = before < 2 && draw(seed, &[key, seq, before as u64]) < 0.3;
        (if fail { 500 } else { 200 }, Duration::from_millis(2))
    })
    .await;
    webhook(&app, json!({"url": receiver.url, "event_types": ["a"]})).await;
    let keys = ["k0", "k1", "k2", "k3", "k4"];
    const PER_KEY: u64 = 12;
    for seq in 0..PER_KEY {
        for k in keys {
            emit_keyed(&app, Some(k), seq).await;
        }
    }
    let total = keys.len() * PER_KEY as usize;
    assert!(
        eventually(Duration::from_secs(60), || async {
            receiver.successes() >= total
        })
        .await,
        "seed {seed}: {} of {total} succeeded",
        receiver.successes()
    );
    let hits = receiver.hits();
    for k in keys {
        let mine: Vec<&Hit> = hits.iter().filter(|h| h.key == k).collect();
        for seq in 1..PER_KEY {
            let ahead_done = mine
                .iter()
                .filter(|h| h.seq == seq - 1 && h.status < 300)
                .map(|h| h.end)
                .min()
                .expect("the one ahead succeeded");
            for h in mine.iter().filter(|h| h.seq == seq) {
                assert!(
                    h.start >= ahead_done,
                    "seed {seed}: key {k}: #{seq} started before #{} had succeeded",
                    seq - 1
                );
            }
        }
    }
}

/// One key whose deliveries keep failing holds up its own sequence, and no
/// other key's nor unkeyed events; its waiting deliveries say what they wait for.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_key_holds_up_no_other_key() {
    let mut config = test_config(fresh_database().await);
    config.retry_schedule = crate::helpers::schedule(&[500, 500, 500, 500, 500]);
    let app = spawn_app_on(config).await;
    let receiver = Recorder::start(|p, _| {
        let status = if p["key"] == "down" { 500 } else { 200 };
        (status, Duration::ZERO)
    })
    .await;
    webhook(&app, json!({"url": receiver.url, "event_types": ["a"]})).await;
    let first_down = emit_keyed(&app, Some("down"), 0).await;
    let second_down = emit_keyed(&app, Some("down"), 1).await;
    for seq in 0..10 {
        emit_keyed(&app, Some("up"), seq).await;
        emit_keyed(&app, None, seq).await;
    }
    let others = eventually(Duration::from_secs(5), || async {
        receiver
            .hits()
            .iter()
            .filter(|h| h.key != "down" && h.status == 200)
            .count()
            >= 20
    })
    .await;
    assert!(
        others,
        "the other key and the unkeyed events arrived while one key failed"
    );
    let head = app.deliveries_of(first_down["id"].as_str().unwrap()).await;
    let behind = app.deliveries_of(second_down["id"].as_str().unwrap()).await;
    assert_eq!(behind[0]["waiting_for"], "ordering", "{behind:?}");
    assert_eq!(behind[0]["behind"], head[0]["id"]);
    assert_eq!(behind[0]["ordering_key"], "down");
    assert!(
        receiver
            .hits()
            .iter()
            .all(|h| !(h.key == "down" && h.seq == 1)),
        "the second of the failing key waits for the first"
    );
    // The head reaches its dead letter, which lets the next one go.
    let next = eventually(Duration::from_secs(40), || async {
        receiver
            .hits()
            .iter()
            .any(|h| h.key == "down" && h.seq == 1)
    })
    .await;
    assert!(next, "a dead letter releases the next of its key");
}
