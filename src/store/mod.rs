//! Postgres: the connection pool, the schema, and the managed local cluster.
//!
//! The pool's connections are driven by tasks on the runtime that built the pool,
//! never on whichever HTTP worker thread happened to open them: actix-web's workers
//! stop before the delivery workers finish at shutdown, and their connections must
//! not die with them.

pub mod deliveries;
pub mod events;
pub mod ingest;
pub mod local_cluster;
pub mod migrate;
pub mod webhooks;

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, RecyclingMethod, Runtime, Timeouts};
use futures_util::future::BoxFuture;
use tokio::runtime::Handle;
use tokio::task::JoinHandle;
use tokio_postgres::NoTls;

pub use deadpool_postgres::{Client, Pool};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database URL is invalid: {0}")]
    BadUrl(#[source] tokio_postgres::Error),
    #[error("could not build the connection pool: {0}")]
    Build(String),
    #[error("no database connection: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("database error: {0}")]
    Db(#[from] tokio_postgres::Error),
    #[error("stored data is not as expected: {0}")]
    Inconsistent(String),
    /// The database was away for a whole batch of work, or the process is stopping.
    #[error("database unavailable: {0}")]
    Unavailable(String),
}

impl StoreError {
    /// True when the database could not be reached or went away: callers answer
    /// 503 and retry later, rather than treat it as a bug.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Pool(_) | StoreError::Unavailable(_) => true,
            StoreError::Db(e) => {
                e.is_closed()
                    || e.code().is_none_or(|c| {
                        let c = c.code();
                        c.starts_with("08") || c.starts_with("57P") || c.starts_with("53")
                    })
            }
            StoreError::BadUrl(_) | StoreError::Build(_) | StoreError::Inconsistent(_) => false,
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

/// How a pool's transactions commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commit {
    /// Wait for the WAL flush: what the API answers must be durable.
    Durable,
    /// Do not wait (`synchronous_commit = off`): for the queue's own writes
    /// (claims, completions, rescues), where a write lost to a database crash
    /// means a delivery is attempted again, never that one is lost.
    Relaxed,
}

pub fn pool(url: &str, size: usize, commit: Commit) -> Result<Pool, StoreError> {
    let mut config = pg_config(url)?;
    if commit == Commit::Relaxed {
        config.options("-c synchronous_commit=off");
    }
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

/// One page of a list, newest first: rows strictly older than `after`, at most `limit`.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub after: Option<(chrono::DateTime<chrono::Utc>, uuid::Uuid)>,
    pub limit: i64,
}

impl Page {
    /// The LIMIT to ask for: one row more than the page, to learn whether another page follows.
    fn fetch(&self) -> i64 {
        self.limit + 1
    }

    fn after_time(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.after.map(|(t, _)| t)
    }

    fn after_id(&self) -> Option<uuid::Uuid> {
        self.after.map(|(_, id)| id)
    }
}
