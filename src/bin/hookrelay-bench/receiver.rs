//! The receiver every scenario's webhooks point at: an actix-web server in the
//! bench's own process, on 127.0.0.1.
//!
//! It answers at once, so that what is measured is hookrelay and not the
//! endpoint, and it stamps each payload's sequence number with the time it
//! first arrived, which is where the latency figures end. /fail and /slow
//! stand in for the broken and the slow endpoints of `failing` and
//! `tenant-backlog`.

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

/// Answers 200 on /ok and 500 on /fail, at once, and 200 on /slow after a
/// quarter of a second; notes when each payload's sequence number first
/// arrived, and counts what reached /ok.
pub struct Receiver {
    pub base: String,
    pub arrived: Arrivals,
    count: Arc<AtomicUsize>,
}

impl Receiver {
    pub fn start() -> BenchResult<Receiver> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let arrived: Arrivals = Arc::default();
        let count = Arc::new(AtomicUsize::new(0));
        let state = web::Data::new((arrived.clone(), count.clone()));
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
        })
    }

    pub fn reset(&self) {
        if let Ok(mut a) = self.arrived.lock() {
            a.clear();
        }
        self.count.store(0, Ordering::Relaxed);
    }

    pub fn count(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }
}

async fn receive(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<(Arrivals, Arc<AtomicUsize>)>,
) -> HttpResponse {
    let now = chrono::Utc::now();
    match req.path() {
        "/fail" => return HttpResponse::InternalServerError().finish(),
        "/slow" => {
            tokio::time::sleep(Duration::from_millis(250)).await;
            return HttpResponse::Ok().finish();
        }
        _ => {}
    }
    state.1.fetch_add(1, Ordering::Relaxed);
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
