//! Postgres: the connection pool, the schema, and the managed local cluster.
//!
//! The pool's connections are driven by tasks on the runtime that built the pool,
//! never on whichever HTTP worker thread happened to open them: actix-web's workers
//! stop before the delivery workers finish at shutdown, and their connections must
//! not die with them.

pub mod dead_letters;
pub mod deliveries;
pub mod event_types;
pub mod events;
pub mod ingest;
pub mod local_cluster;
pub mod migrate;
pub mod operational;
pub mod sealing;
pub mod sessions;
pub mod stats;
pub mod tenants;
pub mod webhooks;

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, RecyclingMethod, Runtime, Timeouts};
use futures_util::future::BoxFuture;
use tokio::runtime::Handle;
use tokio::task::JoinHandle;
use tokio_postgres::NoTls;

pub use deadpool_postgres::{Client, Pool};

/// What went wrong with the database. Its Display and Debug never carry a
/// row's contents: Postgres puts them in an error's DETAIL ("Failing row
/// contains (..., whsec_...)"), so only the SQLSTATE, the constraint and the
/// message are shown, wherever the error is logged.
#[derive(thiserror::Error)]
pub enum StoreError {
    #[error("database URL is invalid: {0}")]
    BadUrl(#[source] tokio_postgres::Error),
    #[error("could not build the connection pool: {0}")]
    Build(String),
    #[error("no database connection: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("database error: {}", describe(.0))]
    Db(tokio_postgres::Error),
    #[error("stored data is not as expected: {0}")]
    Inconsistent(String),
    /// A change the stored data does not allow: the client's request names
    /// something that is not there (a 422 naming `field`).
    #[error("{field}: {detail}")]
    Refused { field: &'static str, detail: String },
    /// The database was away for a whole batch of work, or the process is stopping.
    #[error("database unavailable: {0}")]
    Unavailable(String),
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> StoreError {
        StoreError::Db(e)
    }
}

impl std::fmt::Debug for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// A database error without DETAIL, HINT or WHERE, which may quote data.
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let constraint = db
                .constraint()
                .map(|c| format!(" (constraint {c})"))
                .unwrap_or_default();
            format!(
                "{} {}{constraint}: {}",
                db.severity(),
                db.code().code(),
                db.message()
            )
        }
        // Not from the server (a closed connection, a type mismatch): no row data.
        None => e.to_string(),
    }
}

impl StoreError {
    /// The constraint a database error names, if any.
    pub fn constraint(&self) -> Option<&str> {
        match self {
            StoreError::Db(e) => e.as_db_error().and_then(|d| d.constraint()),
            _ => None,
        }
    }

    /// The server's message, without DETAIL (which may quote data).
    pub fn db_message(&self) -> Option<&str> {
        match self {
            StoreError::Db(e) => e.as_db_error().map(|d| d.message()),
            _ => None,
        }
    }

    /// True when the database could not be reached, went away, or is too busy
    /// to answer in time: callers answer 503 and retry later, rather than
    /// treat it as a bug.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Pool(_) | StoreError::Unavailable(_) => true,
            StoreError::Db(e) => match e.code() {
                // Connection exceptions, shutdowns and cannot-connect-now,
                // insufficient resources, and a statement timeout (57014).
                Some(c) => {
                    let c = c.code();
                    c.starts_with("08")
                        || c.starts_with("57P")
                        || c.starts_with("53")
                        || c == "57014"
                }
                // Not from the server: only a lost connection, or a socket that
                // failed or timed out, means the database is away. The rest (a
                // parameter or column that does not convert, an unexpected
                // message) is a bug of ours, a 500.
                None => e.is_closed() || connection_failed(e),
            },
            StoreError::BadUrl(_)
            | StoreError::Build(_)
            | StoreError::Inconsistent(_)
            | StoreError::Refused { .. } => false,
        }
    }

    /// The SQLSTATE of a database error, if the server sent one.
    pub fn code(&self) -> Option<&str> {
        match self {
            StoreError::Db(e) => e.code().map(|c| c.code()),
            _ => None,
        }
    }
}

/// Whether a client-side error came from the connection itself: an I/O error
/// (refused, reset, timed out) anywhere in its causes.
fn connection_failed(e: &tokio_postgres::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(c) = cause {
        if c.is::<std::io::Error>() {
            return true;
        }
        cause = c.source();
    }
    false
}

/// How many times a statement that lost a deadlock, a serialization conflict
/// or a race with a concurrent delete is tried again before its error stands.
const TRANSIENT_TRIES: u32 = 4;

impl StoreError {
    /// A conflict between concurrent transactions that another try resolves:
    /// a deadlock (40P01), a serialization failure (40001), or a foreign key
    /// whose row a concurrent delete removed (23503).
    pub fn is_transient(&self) -> bool {
        matches!(self.code(), Some("40P01" | "40001" | "23503"))
    }
}

/// True, after a short randomized pause, when `e` is transient and `tries`
/// (counted here) allows another try: for loops that retry a transaction.
pub async fn transient(e: &StoreError, tries: &mut u32) -> bool {
    if !e.is_transient() || *tries >= TRANSIENT_TRIES {
        return false;
    }
    *tries += 1;
    let ms = rand::Rng::gen_range(&mut rand::thread_rng(), 1..=5u64) * u64::from(*tries);
    tracing::debug!(error = %e, tries = *tries, "transient database conflict; trying again");
    tokio::time::sleep(Duration::from_millis(ms)).await;
    true
}

/// Runs `op` again while it fails transiently (see `transient`).
pub async fn retry_transient<T, F, Fut>(mut op: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, tokio_postgres::Error>>,
{
    let mut tries = 0;
    loop {
        match op().await.map_err(StoreError::from) {
            Err(e) if transient(&e, &mut tries).await => continue,
            done => return done,
        }
    }
}

/// Opens connections and drives each on the runtime given at construction.
struct SpawnOn(Handle);

impl deadpool_postgres::Connect for SpawnOn {
    fn connect(
        &self,
        pg_config: &tokio_postgres::Config,
    ) -> BoxFuture<'_, Result<(tokio_postgres::Client, JoinHandle<()>), tokio_postgres::Error>>
    {
        let fallback = pg_config.clone();
        let pg_config = pg_config.clone();
        let handle = self.0.clone();
        // The socket is registered with the runtime that opens it, so the whole
        // connect runs on ours, not on the HTTP worker thread that asked.
        let connecting = self.0.spawn(async move {
            let (client, connection) = pg_config.connect(NoTls).await?;
            let task = handle.spawn(async move {
                if let Err(e) = connection.await {
                    tracing::debug!(error = %e, "database connection closed");
                }
            });
            Ok((client, task))
        });
        Box::pin(async move {
            match connecting.await {
                Ok(result) => result,
                // Our runtime is shutting down: connect here instead, for what remains to do.
                Err(_) => {
                    let (client, connection) = fallback.connect(NoTls).await?;
                    Ok((client, tokio::spawn(async move { drop(connection.await) })))
                }
            }
        })
    }
}

/// Parses a URL into a connection config with short timeouts: a database that is
/// down must turn into a quick 503, not a hung request.
pub fn pg_config(url: &str) -> Result<tokio_postgres::Config, StoreError> {
    let mut config: tokio_postgres::Config = url.parse().map_err(StoreError::BadUrl)?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(3));
    }
    config.application_name("hookrelay");
    Ok(config)
}

/// What a pool's connections are for, which decides how their sessions are set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Session {
    /// The API's: commits wait for the WAL flush, since what it answers must
    /// be durable. With the process's concurrency caps, which a delivery read
    /// compares with what is in flight to say it waits for `concurrency`
    /// (settings `hookrelay.max_in_flight_per_webhook` and `_per_tenant`,
    /// read by the `delivery_waiting` function).
    Api(Option<Caps>),
    /// The event writers' (`ingest`): durable like the API's, and their one
    /// statement always runs its generic plan (`plan_cache_mode =
    /// force_generic_plan`). That plan fits any batch: one look-up per event,
    /// or a tiny table read once. Left to choose, Postgres compares it with the
    /// custom plans of a connection's first five executions; when those were
    /// small batches (a quiet start) they look cheaper, and from then on that
    /// connection plans every batch anew. In the bench's tenants runs that was
    /// up to a fifth of the executions, 9 to 10 µs of planning per event.
    Ingest,
    /// The queue's (claims, completions, rescues): commits do not wait
    /// (`synchronous_commit = off`), since a write lost to a database crash
    /// means a delivery is attempted again, never that one is lost.
    Queue,
}

/// The process's concurrency caps, as `Session::Api` hands them to its sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    pub per_webhook: usize,
    pub per_tenant: usize,
}

pub fn pool(url: &str, size: usize, session: Session) -> Result<Pool, StoreError> {
    let config = session_config(url, session)?;
    let manager = Manager::from_connect(
        config,
        SpawnOn(Handle::current()),
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(size)
        .runtime(Runtime::Tokio1)
        .timeouts(Timeouts {
            wait: Some(Duration::from_secs(3)),
            create: Some(Duration::from_secs(3)),
            recycle: Some(Duration::from_secs(3)),
        })
        .build()
        .map_err(|e| StoreError::Build(e.to_string()))
}

/// `url`'s connection config with `session`'s setting added to the options the
/// URL holds itself (a `search_path`, say): replacing those would point one
/// pool at other tables than the rest.
fn session_config(url: &str, session: Session) -> Result<tokio_postgres::Config, StoreError> {
    let mut config = pg_config(url)?;
    let setting = match session {
        Session::Api(None) => return Ok(config),
        Session::Api(Some(caps)) => format!(
            "-c hookrelay.max_in_flight_per_webhook={} -c hookrelay.max_in_flight_per_tenant={}",
            caps.per_webhook, caps.per_tenant
        ),
        Session::Ingest => "-c plan_cache_mode=force_generic_plan".to_owned(),
        Session::Queue => "-c synchronous_commit=off".to_owned(),
    };
    let options = match config.get_options() {
        Some(own) if !own.trim().is_empty() => format!("{own} {setting}"),
        _ => setting,
    };
    config.options(options);
    Ok(config)
}

/// True when the database answers and holds the newest schema: `/readyz`.
pub async fn ready(pool: &Pool) -> bool {
    async {
        let client = pool.get().await?;
        let version = migrate::applied_version(&client).await?;
        Ok::<_, StoreError>(version == migrate::latest_version())
    }
    .await
    .unwrap_or(false)
}

/// Which tenant's rows a statement may read or change. Every store function a
/// tenant's request can reach takes one and hands it to its statement (as
/// `$n::text IS NULL OR tenant = $n`), so a handler cannot reach another
/// tenant's rows by forgetting a check: it has to say which scope it means.
/// The API builds it from the caller (`api::auth::Caller`) and nowhere else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope<'a> {
    /// The operator: every tenant.
    Any,
    /// One tenant's rows only: a tenant's own request, or the operator's `?tenant=`.
    Tenant(&'a str),
}

impl<'a> Scope<'a> {
    /// The statement parameter: the tenant, or null for any.
    pub fn param(self) -> Option<&'a str> {
        match self {
            Scope::Any => None,
            Scope::Tenant(t) => Some(t),
        }
    }
}

/// A time after every row's (and inside Postgres' range, unlike chrono's MAX).
fn far_future() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(253_402_300_799, 0).unwrap_or_default()
}

/// One page of a list, newest first: rows strictly older than `after`, at most
/// `limit`. Rows created at the same time are ordered by their key: an id, or
/// the name of a row named by its key (an event type).
#[derive(Debug, Clone, Copy)]
pub struct Page<K = uuid::Uuid> {
    pub after: Option<(chrono::DateTime<chrono::Utc>, K)>,
    pub limit: i64,
}

impl<K: Clone + Default> Page<K> {
    /// The LIMIT to ask for: one row more than the page, to learn whether another page follows.
    fn fetch(&self) -> i64 {
        self.limit + 1
    }

    /// Rows strictly older than this come next: the cursor, or on the first
    /// page a bound past every row (not NULL: a bound that is always there
    /// keeps `(created_at, id) < ($1, $2)` an index condition in every plan;
    /// its key does not matter, no row being created that late).
    fn before(&self) -> (chrono::DateTime<chrono::Utc>, K) {
        self.after
            .clone()
            .unwrap_or_else(|| (far_future(), K::default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_a_connection_that_fails_is_unavailable_among_errors_without_a_sqlstate() {
        // Nothing listens on the port a listener just gave back: refused.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let refused = tokio_postgres::connect(
            &format!("host=127.0.0.1 port={port} user=x connect_timeout=2"),
            NoTls,
        )
        .await
        .err()
        .unwrap();
        assert!(refused.code().is_none());
        assert!(StoreError::Db(refused).is_unavailable(), "refused");

        // An error of ours, not the database's absence: a 500, not a 503.
        let ours = "port=not-a-number"
            .parse::<tokio_postgres::Config>()
            .err()
            .unwrap();
        assert!(ours.code().is_none());
        let ours = StoreError::Db(ours);
        assert!(!ours.is_unavailable());
        assert!(matches!(
            crate::api::ApiError::from(ours),
            crate::api::ApiError::Internal(_)
        ));
    }

    #[test]
    fn a_session_setting_keeps_the_urls_own_options() {
        let url = "postgres://u@127.0.0.1/db?options=-c%20search_path%3Dhooks";
        let queue = session_config(url, Session::Queue).unwrap();
        assert_eq!(
            queue.get_options(),
            Some("-c search_path=hooks -c synchronous_commit=off")
        );
        let api = session_config(url, Session::Api(None)).unwrap();
        assert_eq!(api.get_options(), Some("-c search_path=hooks"));
        let caps = Caps {
            per_webhook: 128,
            per_tenant: 64,
        };
        let api = session_config(url, Session::Api(Some(caps))).unwrap();
        assert_eq!(
            api.get_options(),
            Some(
                "-c search_path=hooks -c hookrelay.max_in_flight_per_webhook=128 \
                 -c hookrelay.max_in_flight_per_tenant=64"
            )
        );
        let plain = session_config("postgres://u@127.0.0.1/db", Session::Ingest).unwrap();
        assert_eq!(
            plain.get_options(),
            Some("-c plan_cache_mode=force_generic_plan")
        );
    }
}
