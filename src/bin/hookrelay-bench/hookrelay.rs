//! The hookrelay under test: the release binary run as a child process, and
//! the API calls the scenarios make of it.
//!
//! A child process, not an in-process app, so its memory and CPU can be read
//! from /proc on their own, and so that it is set up through its environment
//! as a deployment is. The scenarios reach it only through its HTTP API, so
//! their figures include what a client pays.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::BenchResult;

/// A hookrelay child process; killed when dropped.
pub struct Hookrelay {
    child: Child,
    pub address: String,
    http: reqwest::Client,
}

impl Hookrelay {
    pub async fn start(
        binary: &Path,
        database_url: &str,
        env: &[(&str, &str)],
    ) -> BenchResult<Hookrelay> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut cmd = Command::new(binary);
        cmd.env("DATABASE_URL", database_url)
            .env("HOOKRELAY_LISTEN", format!("127.0.0.1:{port}"))
            .env("HOOKRELAY_ALLOW_PRIVATE_TARGETS", "true")
            .env("RUST_LOG", "error")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn()?;
        let h = Hookrelay {
            child,
            address: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(256)
                .build()?,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if h.http
                .get(format!("{}/healthz", h.address))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
            {
                return Ok(h);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err("hookrelay did not come up within 30 s".into())
    }

    /// POSTs JSON; a connection the server closed while idle is retried, as
    /// any HTTP client would, but an answer of any status is returned as is.
    pub async fn post(&self, path: &str, body: &Value) -> BenchResult<(u16, Value)> {
        self.send(reqwest::Method::POST, path, body).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> BenchResult<(u16, Value)> {
        self.send(reqwest::Method::PUT, path, body).await
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &Value,
    ) -> BenchResult<(u16, Value)> {
        let bytes = serde_json::to_vec(body)?;
        let mut tries = 0;
        let r = loop {
            let sent = self
                .http
                .request(method.clone(), format!("{}{path}", self.address))
                .header("Content-Type", "application/json")
                .body(bytes.clone())
                .send()
                .await;
            match sent {
                Ok(r) => break r,
                Err(e) if tries < 3 && (e.is_connect() || e.is_request()) => tries += 1,
                Err(e) => return Err(e.into()),
            }
        };
        let status = r.status().as_u16();
        let answer = r.bytes().await?;
        Ok((
            status,
            serde_json::from_slice(&answer).unwrap_or(Value::Null),
        ))
    }

    pub async fn webhook(&self, url: &str, types: &[&str]) -> BenchResult<String> {
        let (status, body) = self
            .post("/webhooks", &json!({"url": url, "event_types": types}))
            .await?;
        if status != 201 {
            return Err(format!("creating a webhook answered {status}: {body}").into());
        }
        Ok(body["id"].as_str().unwrap_or_default().to_owned())
    }

    /// Emits `count` events of `event_type` from `clients` concurrent clients;
    /// the payload carries the event's sequence number.
    pub async fn emit_many(
        self: &Arc<Self>,
        event_type: &str,
        count: usize,
        clients: usize,
    ) -> BenchResult<()> {
        self.emit_many_with(event_type, count, clients, |seq| json!({"seq": seq}))
            .await
    }

    /// `emit_many`, with the payload `payload(seq)`.
    pub async fn emit_many_with(
        self: &Arc<Self>,
        event_type: &str,
        count: usize,
        clients: usize,
        payload: fn(usize) -> Value,
    ) -> BenchResult<()> {
        let event_type = event_type.to_owned();
        self.emit_bodies(
            count,
            clients,
            move |seq| json!({"type": event_type, "payload": payload(seq)}),
        )
        .await
    }

    /// Emits `count` events from `clients` concurrent clients, the body of the
    /// `seq`th being `body(seq)`.
    pub async fn emit_bodies(
        self: &Arc<Self>,
        count: usize,
        clients: usize,
        body: impl Fn(usize) -> Value + Send + Sync + 'static,
    ) -> BenchResult<()> {
        let next = Arc::new(AtomicUsize::new(0));
        let body = Arc::new(body);
        let mut tasks = Vec::new();
        for _ in 0..clients {
            let (me, next, body) = (self.clone(), next.clone(), body.clone());
            tasks.push(tokio::spawn(async move {
                loop {
                    let seq = next.fetch_add(1, Ordering::Relaxed);
                    if seq >= count {
                        return Ok::<(), String>(());
                    }
                    match me.post("/events", &body(seq)).await {
                        Ok((201, _)) => {}
                        Ok((s, b)) => return Err(format!("POST /events answered {s}: {b}")),
                        Err(e) => return Err(e.to_string()),
                    }
                }
            }));
        }
        for t in tasks {
            t.await??;
        }
        Ok(())
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Peak resident memory so far, in MiB (VmHWM).
    pub fn peak_rss_mib(&self) -> f64 {
        proc_status_kb(self.pid(), "VmHWM:").map_or(0.0, |kb| kb as f64 / 1024.0)
    }

    /// CPU time used so far (user + system), in clock ticks.
    pub fn cpu_ticks(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/stat", self.pid()))
            .ok()
            .and_then(|s| {
                let after = s.rsplit_once(')')?.1.split_whitespace().collect::<Vec<_>>();
                Some(after.get(11)?.parse::<u64>().ok()? + after.get(12)?.parse::<u64>().ok()?)
            })
            .unwrap_or(0)
    }

    /// SIGTERM and wait for the exit.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Hookrelay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn proc_status_kb(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
