//! The test harness: a throwaway Postgres cluster per test binary, a fresh
//! database per test, hookrelay served in-process on a random port, and real
//! HTTP receivers on 127.0.0.1 whose answers each test scripts.
//!
//! The cluster is started by the same code as hookrelay's managed cluster, in a
//! temp dir, unless HOOKRELAY_TEST_DATABASE_URL names a server to use instead.
//! A watchdog shell outlives the test process just long enough to stop the
//! cluster and remove its files, however the tests end.

use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use hookrelay::config::{Config, RetrySchedule};
use hookrelay::startup::Application;
use hookrelay::store::local_cluster::{LocalCluster, THROWAWAY_SETTINGS};
use serde_json::Value;
use tokio_postgres::NoTls;
use uuid::Uuid;

/// Where test databases are created: a server URL without the database name.
struct TestServer {
    /// URL of a maintenance database, for CREATE DATABASE.
    admin_url: String,
    /// Builds the URL of a named database.
    url_for: Box<dyn Fn(&str) -> String + Send + Sync>,
}

static SERVER: OnceLock<TestServer> = OnceLock::new();

fn server() -> &'static TestServer {
    SERVER.get_or_init(|| {
        if let Ok(url) = std::env::var("HOOKRELAY_TEST_DATABASE_URL") {
            let base = url.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap_or(url.clone());
            return TestServer {
                admin_url: url,
                url_for: Box::new(move |db| format!("{base}/{db}")),
            };
        }
        let dir = std::env::temp_dir().join(format!("hookrelay-test-{}", Uuid::new_v4().simple()));
        let cluster = LocalCluster::start(&dir, THROWAWAY_SETTINGS).expect("start the throwaway Postgres cluster");
        let watchdog = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop} >/dev/null 2>&1; rm -rf '{dir}'",
            pid = std::process::id(),
            stop = cluster.kill_command(),
            dir = dir.display(),
        );
        // The watchdog must outlive this process, so it is never waited for.
        #[allow(clippy::zombie_processes)]
        std::process::Command::new("sh")
            .arg("-c")
            .arg(watchdog)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start the cluster watchdog");
        TestServer {
            admin_url: cluster.url("postgres"),
            url_for: Box::new(move |db| cluster.url(db)),
        }
    })
}

/// Creates an empty database and returns its URL.
pub async fn fresh_database() -> String {
    let server = server();
    let name = format!("test_{}", Uuid::new_v4().simple());
    let (client, connection) = tokio_postgres::connect(&server.admin_url, NoTls)
        .await
        .expect("connect to the test server");
    tokio::spawn(connection);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create the test database");
    (server.url_for)(&name)
}

/// Settings for tests: private targets allowed (receivers are on 127.0.0.1),
/// a millisecond retry schedule, short timeouts.
pub fn test_config(database_url: String) -> Config {
    let mut config = Config::defaults();
    config.database_url = Some(database_url);
    config.listen = "127.0.0.1:0".parse().expect("literal address");
    config.workers = 16;
    config.allow_private_targets = true;
    config.retry_schedule = schedule(&[20, 40, 80, 160, 320]);
    config.delivery_timeout = Duration::from_secs(2);
    config.lease = Duration::from_secs(10);
    config.poll_interval = Duration::from_millis(200);
    config.shutdown_grace = Duration::from_secs(5);
    config.db_pool_size = 8;
    config
}

pub fn schedule(ms: &[u64]) -> RetrySchedule {
    RetrySchedule(ms.iter().map(|m| Duration::from_millis(*m)).collect())
}

pub struct TestApp {
    pub address: String,
    pub http: reqwest::Client,
    pub db: tokio_postgres::Client,
    pub database_url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    running: Option<tokio::task::JoinHandle<()>>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(configure: impl FnOnce(&mut Config)) -> TestApp {
    let database_url = fresh_database().await;
    let mut config = test_config(database_url.clone());
    configure(&mut config);
    spawn_app_on(config).await
}

pub async fn spawn_app_on(config: Config) -> TestApp {
    // Quiet unless asked: RUST_LOG=info cargo test shows hookrelay's logs.
    if std::env::var_os("RUST_LOG").is_some() {
        hookrelay::telemetry::init(config.log_format);
    }
    let database_url = config
        .database_url
        .clone()
        .expect("tests name their database");
    let app = Application::build(config).await.expect("build the app");
    let address = format!("http://127.0.0.1:{}", app.port());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(async move {
        let _ = app
            .run_until(async {
                let _ = stopped.await;
            })
            .await;
    });
    let (db, connection) = tokio_postgres::connect(&database_url, NoTls)
        .await
        .expect("connect to the test database");
    tokio::spawn(connection);
    TestApp {
        address,
        http: reqwest::Client::new(),
        db,
        database_url,
        stop: Some(stop),
        running: Some(running),
    }
}

impl TestApp {
    /// Stops the app as SIGTERM would, and waits until it has.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(running) = self.running.take() {
            let _ = running.await;
        }
    }

    pub async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.address))
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("request")
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let r = self.get(path).await;
        assert_eq!(r.status(), 200, "GET {path}");
        r.json().await.expect("json")
    }

    /// GET as a caller with a bearer token; the answer must be 200.
    pub async fn get_json_as(&self, path: &str, token: &str) -> Value {
        let (status, body) = self.call("GET", path, Some(token), None).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    pub async fn put(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .put(format!("{}{path}", self.address))
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn patch(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .patch(format!("{}{path}", self.address))
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn delete(&self, path: &str) -> reqwest::Response {
        self.http
            .delete(format!("{}{path}", self.address))
            .send()
            .await
            .expect("request")
    }

    /// Registers a webhook; returns its JSON (with the secret).
    pub async fn create_webhook(&self, url: &str, event_types: &[&str]) -> Value {
        let r = self
            .post(
                "/webhooks",
                &serde_json::json!({"url": url, "event_types": event_types}),
            )
            .await;
        assert_eq!(r.status(), 201, "create webhook");
        r.json().await.expect("json")
    }

    pub async fn emit(&self, event_type: &str, payload: Value) -> Value {
        let r = self
            .post(
                "/events",
                &serde_json::json!({"type": event_type, "payload": payload}),
            )
            .await;
        assert_eq!(r.status(), 201, "emit event");
        r.json().await.expect("json")
    }

    pub async fn delivery(&self, id: &str) -> Value {
        self.get_json(&format!("/deliveries/{id}")).await
    }

    /// The deliveries of an event, as the API lists them.
    pub async fn deliveries_of(&self, event_id: &str) -> Vec<Value> {
        let page = self
            .get_json(&format!("/events/{event_id}/deliveries"))
            .await;
        page["data"].as_array().expect("data").clone()
    }

    /// Waits until the delivery reaches `status`; returns it with its attempt log.
    pub async fn wait_for_status(
        &self,
        delivery_id: &str,
        status: &str,
        within: Duration,
    ) -> Value {
        self.wait_for_delivery(delivery_id, &format!("status {status}"), within, |d| {
            d["status"] == status
        })
        .await
    }

    /// Waits until the delivery (with its attempt log) satisfies `check`.
    pub async fn wait_for_delivery(
        &self,
        delivery_id: &str,
        what: &str,
        within: Duration,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let last = self.delivery(delivery_id).await;
            if check(&last) {
                return last;
            }
            assert!(
                Instant::now() < deadline,
                "delivery {delivery_id} did not reach {what} in {within:?}; last seen: {last:#}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Any request, as a caller with `token` (None: no Authorization header);
    /// returns the status and the body as JSON (null when it is not JSON).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut r = self.http.request(
            method.parse().expect("a method"),
            format!("{}{path}", self.address),
        );
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(b);
        }
        let response = r.send().await.expect("request");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Creates a tenant (PUT /tenants/{key}).
    pub async fn create_tenant(&self, key: &str) {
        let r = self
            .put(&format!("/tenants/{key}"), &serde_json::json!({}))
            .await;
        assert_eq!(r.status(), 201, "create tenant {key}");
    }

    /// A tenant token for `key`, lasting `ttl`.
    pub async fn tenant_token(&self, key: &str, ttl: &str) -> String {
        let (status, body) = self
            .call(
                "POST",
                &format!("/tenants/{key}/tokens"),
                None,
                Some(&serde_json::json!({"ttl": ttl})),
            )
            .await;
        assert_eq!(status, 201, "token for {key}: {body}");
        body["token"].as_str().expect("token").to_owned()
    }

    /// Registers a webhook for a tenant; returns its JSON (with the secret).
    pub async fn create_webhook_for(&self, tenant: &str, url: &str, event_types: &[&str]) -> Value {
        let body = serde_json::json!({"tenant": tenant, "url": url, "event_types": event_types});
        let (status, webhook) = self.call("POST", "/webhooks", None, Some(&body)).await;
        assert_eq!(status, 201, "create webhook for {tenant}: {webhook}");
        webhook
    }

    /// Emits an event for a tenant; returns its JSON.
    pub async fn emit_for(&self, tenant: &str, event_type: &str, payload: Value) -> Value {
        let body = serde_json::json!({"tenant": tenant, "type": event_type, "payload": payload});
        let (status, event) = self.call("POST", "/events", None, Some(&body)).await;
        assert_eq!(status, 201, "emit for {tenant}: {event}");
        event
    }

    pub async fn count(&self, table: &str) -> i64 {
        self.db
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .expect("count")
            .get(0)
    }
}

/// The seeds a seeded test runs: `HOOKRELAY_TEST_SEEDS=1,2,3` (or `=1..200`)
/// if set, else the test's own list (the ones CI runs, and any that once failed).
pub fn seeds(ci: &[u64]) -> Vec<u64> {
    match std::env::var("HOOKRELAY_TEST_SEEDS") {
        Ok(s) => match s.split_once("..") {
            Some((a, b)) => (a.parse().expect("seed")..=b.parse().expect("seed")).collect(),
            None => s
                .split(',')
                .map(|x| x.trim().parse().expect("seed"))
                .collect(),
        },
        Err(_) => ci.to_vec(),
    }
}

/// Polls `check` until it is true or `within` has passed; true if it became true.
pub async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What a receiver answers to its n-th request (0-based).
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub delay: Duration,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            delay: Duration::ZERO,
            headers: Vec::new(),
            body: String::new(),
        }
    }

    pub fn after(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn body(mut self, body: &str) -> Reply {
        self.body = body.into();
        self
    }
}

/// One request a receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    pub at: Instant,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("the body is JSON")
    }
}

type Script = Arc<dyn Fn(usize) -> Reply + Send + Sync>;

/// A real HTTP server on 127.0.0.1 that records every request and answers as scripted.
pub struct Receiver {
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    /// A receiver that always answers 200.
    pub async fn ok() -> Receiver {
        Receiver::start(|_| Reply::status(200)).await
    }

    pub async fn start(script: impl Fn(usize) -> Reply + Send + Sync + 'static) -> Receiver {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a receiver");
        Receiver::start_on(listener, script).await
    }

    /// Starts on a port chosen earlier (a receiver that was down comes up).
    pub async fn start_on(
        listener: std::net::TcpListener,
        script: impl Fn(usize) -> Reply + Send + Sync + 'static,
    ) -> Receiver {
        let port = listener.local_addr().expect("addr").port();
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let script: Script = Arc::new(script);
        let state = (received.clone(), script);
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(state.clone()))
                .default_service(web::to(record))
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(0)
        .listen(listener)
        .expect("listen")
        .run();
        tokio::spawn(server);
        Receiver {
            url: format!("http://127.0.0.1:{port}/hook"),
            received,
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }

    pub fn count(&self) -> usize {
        self.received.lock().expect("lock").len()
    }

    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Received> {
        let got = eventually(within, || async { self.count() >= n }).await;
        assert!(
            got,
            "receiver got {} requests, expected {n} within {within:?}",
            self.count()
        );
        self.received()
    }
}

async fn record(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<(Arc<Mutex<Vec<Received>>>, Script)>,
) -> HttpResponse {
    let (received, script) = state.get_ref();
    let mut headers = http::HeaderMap::new();
    for (name, value) in req.headers() {
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(name.as_str().as_bytes()),
            http::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            headers.append(n, v);
        }
    }
    let n = {
        let mut all = received.lock().expect("lock");
        all.push(Received {
            at: Instant::now(),
            headers,
            body: body.to_vec(),
        });
        all.len() - 1
    };
    let reply = script(n);
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut response =
        HttpResponse::build(actix_web::http::StatusCode::from_u16(reply.status).expect("status"));
    for (k, v) in &reply.headers {
        response.insert_header((k.as_str(), v.as_str()));
    }
    response.body(reply.body)
}

/// A port nothing listens on: connections to it are refused until a receiver
/// starts there with `Receiver::start_on(bind(port), ...)`.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

pub fn bind(port: u16) -> std::net::TcpListener {
    std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind the chosen port")
}

/// hookrelay as a real child process (for faults that need one: SIGKILL,
/// SIGTERM, several replicas). Its stderr goes to a file the test can read.
pub struct Process {
    child: std::process::Child,
    pub address: String,
    log: std::path::PathBuf,
}

impl Process {
    /// Starts `hookrelay serve` on `database_url` with the test settings plus
    /// `env`, and waits until /healthz answers.
    pub async fn start(database_url: &str, env: &[(&str, &str)]) -> Process {
        let port = closed_port();
        let log =
            std::env::temp_dir().join(format!("hookrelay-child-{}.log", Uuid::new_v4().simple()));
        let stderr = std::fs::File::create(&log).expect("create the child's log file");
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_hookrelay"));
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("DATABASE_URL", database_url)
            .env("HOOKRELAY_LISTEN", format!("127.0.0.1:{port}"))
            .env("HOOKRELAY_ALLOW_PRIVATE_TARGETS", "true")
            .env("HOOKRELAY_RETRY_SCHEDULE", "20ms,40ms,80ms,160ms,320ms")
            .env("HOOKRELAY_DELIVERY_TIMEOUT", "2s")
            .env("HOOKRELAY_POLL_INTERVAL", "200ms")
            .env("RUST_LOG", "info");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .arg("serve")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start hookrelay");
        let address = format!("http://127.0.0.1:{port}");
        let mut process = Process {
            child,
            address,
            log,
        };
        let http = reqwest::Client::new();
        let up = eventually(Duration::from_secs(30), || async {
            http.get(format!("{}/healthz", process.address))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
        })
        .await;
        if !up {
            let _ = process.child.kill();
            panic!(
                "hookrelay did not come up; its log:\n{}",
                process.log_text()
            );
        }
        process
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn signal(&self, signal: &str) {
        let ok = std::process::Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill")
            .success();
        assert!(ok, "kill -{signal} failed");
    }

    /// Waits for the process to exit; `None` if it is still running after `within`.
    pub async fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// Every row of every table of a database, as `pg_dump --data-only` writes
/// them: what a stolen backup holds.
pub fn dump_rows(database_url: &str) -> String {
    let pg_dump = hookrelay::store::local_cluster::server_program("pg_dump")
        .expect("PostgreSQL is installed");
    let out = std::process::Command::new(pg_dump)
        .args(["--data-only", "--no-owner", "--dbname", database_url])
        .output()
        .expect("run pg_dump");
    assert!(
        out.status.success(),
        "pg_dump: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("the dump is text")
}

/// A Postgres cluster of a test's own, for faults that stop the database.
pub struct OwnCluster {
    pub cluster: LocalCluster,
    dir: std::path::PathBuf,
}

impl OwnCluster {
    pub fn start() -> OwnCluster {
        let dir = std::env::temp_dir().join(format!("hookrelay-own-{}", Uuid::new_v4().simple()));
        // Durable settings, as users run it: this cluster gets crashed on purpose,
        // and what was committed before the crash must still be there after it.
        let cluster = LocalCluster::start(&dir, "").expect("start a cluster");
        OwnCluster { cluster, dir }
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        let _ = self.cluster.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Inserts `n` deliveries of one event per webhook, due now, straight into the
/// database: arranging a backlog without thousands of API calls.
pub async fn insert_backlog(
    db: &tokio_postgres::Client,
    webhook_ids: &[&str],
    events_per_webhook: i64,
) {
    for webhook in webhook_ids {
        db.execute(
            "WITH e AS (
                 INSERT INTO events (id, type, payload)
                 SELECT gen_random_uuid(), 'backlog', jsonb_build_object('n', n) FROM generate_series(1, $2::bigint) n
                 RETURNING id)
             INSERT INTO deliveries (id, webhook_id, event_id)
             SELECT gen_random_uuid(), $1::text::uuid, e.id FROM e",
            &[webhook, &events_per_webhook],
        )
        .await
        .expect("insert a backlog");
    }
}
