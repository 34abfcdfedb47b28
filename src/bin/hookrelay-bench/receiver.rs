//! The receiver every scenario's webhooks point at: an actix-web server in the
//! bench's own process, on 127.0.0.1.
//!
//! It answers at once, so that what is measured is hookrelay and not the
//! endpoint, and it stamps each payload's sequence number with the time it
//! first arrived, which is where the latency figures end. /fail and /slow
//! stand in for the broken and the slow endpoints of `failing` and
//! `tenant-backlog`; /ms answers after a millisecond, as a quick real
//! endpoint would (`ordered, one key`). Every other path answers at once, and
//! what each path received is counted, so that scenarios with two webhooks
//! can tell their deliveries apart.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::Value;

use crate::support::BenchResult;

/// Wall-clock time: latency is measured from the event's `created_at`, the
/// moment the database accepted it, to the receiver's clock, on the same machine.
pub type Wall = chrono::DateTime<chrono::Utc>;

/// When each payload sequence number first reached the receiver.
type Arrivals = Arc<Mutex<HashMap<u64, Wall>>>;

/// Requests answered 2xx, per path.
type Counts = Arc<Mutex<HashMap<String, usize>>>;

/// Answers 500 on /fail at once, 200 on /slow after a quarter of a second,
/// 200 on /ms after a millisecond, and 200 at once on any other path; notes
/// when each payload's sequence number first arrived, and counts what every
/// path but /fail and /slow received, in all and per path.
pub struct Receiver {
    pub base: String,
    pub arrived: Arrivals,
    count: Arc<AtomicUsize>,
    counts: Counts,
}

impl Receiver {
    pub fn start() -> BenchResult<Receiver> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let arrived: Arrivals = Arc::default();
        let count = Arc::new(AtomicUsize::new(0));
        let counts: Counts = Arc::default();
        let state = web::Data::new((arrived.clone(), count.clone(), counts.clone()));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .default_service(web::to(receive))
        })
        .workers(1)
        .disable_signals()
        .backlog(4096)
        .listen(listener)?
        .run();
        tokio::spawn(server);
        Ok(Receiver {
            base: format!("http://127.0.0.1:{port}"),
            arrived,
            count,
            counts,
        })
    }

    pub fn reset(&self) {
        if let Ok(mut a) = self.arrived.lock() {
            a.clear();
        }
        self.count.store(0, Ordering::Relaxed);
        if let Ok(mut c) = self.counts.lock() {
            c.clear();
        }
    }

    pub fn count(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// What `path` (say "/ok") received.
    pub fn count_at(&self, path: &str) -> usize {
        self.counts
            .lock()
            .map_or(0, |c| c.get(path).copied().unwrap_or(0))
    }
}

async fn receive(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<(Arrivals, Arc<AtomicUsize>, Counts)>,
) -> HttpResponse {
    let now = chrono::Utc::now();
    match req.path() {
        "/fail" => return HttpResponse::InternalServerError().finish(),
        "/slow" => {
            tokio::time::sleep(Duration::from_millis(250)).await;
            return HttpResponse::Ok().finish();
        }
        "/ms" => tokio::time::sleep(Duration::from_millis(1)).await,
        _ => {}
    }
    state.1.fetch_add(1, Ordering::Relaxed);
    if let Ok(mut c) = state.2.lock() {
        // A string for a path the first time only: this is the ceiling's path too.
        match c.get_mut(req.path()) {
            Some(n) => *n += 1,
            None => {
                c.insert(req.path().to_owned(), 1);
            }
        }
    }
    if let Some(seq) = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["seq"].as_u64())
    {
        if let Ok(mut a) = state.0.lock() {
            a.entry(seq).or_insert(now);
        }
    }
    HttpResponse::Ok().finish()
}
