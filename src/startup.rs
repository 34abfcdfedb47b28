//! Building and running the application: database (given, or the managed local
//! cluster), migrations, the HTTP server and the worker pool, in one process.
//!
//! actix-web's own signal handling is off: `run_until` owns the shutdown order.
//! On the stop signal the HTTP server stops accepting and the workers stop
//! claiming together; in-flight deliveries get the grace period; then the
//! managed cluster, if this process started it, is stopped.

use std::future::Future;
use std::net::TcpListener;
use std::sync::Arc;

use actix_web::web::Data;
use actix_web::{App, HttpServer};

use crate::api::{self, AppState};
use crate::catalog::Catalog;
use crate::config::{Config, ConfigError};
use crate::console;
use crate::delivery::{Sender, Targets};
use crate::metrics::Metrics;
use crate::retention;
use crate::sql;
use crate::store::ingest::Ingest;
use crate::store::local_cluster::{ClusterError, LocalCluster};
use crate::store::sealing::{self, Keys};
use crate::store::{self, migrate, Pool, Session, StoreError};
use crate::wakeup::Wakeup;
use crate::workers::{self, Workers};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    #[error("the HTTP server failed: {0}")]
    Server(#[source] std::io::Error),
    #[error("cannot set up metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error("a start-up task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// The database this process uses, and the local cluster if it manages one.
pub struct Database {
    pub pool: Pool,
    pub cluster: Option<LocalCluster>,
}

/// Connects (starting the managed cluster when `config.database_url` is unset and
/// `config.managed_postgres` allows it, and filling it in) and applies pending
/// migrations.
pub async fn database(config: &mut Config) -> Result<Database, StartupError> {
    let cluster = match &config.database_url {
        Some(_) => None,
        // `Config::from_settings` refuses this too; a `Config` built in code
        // must not start a cluster it was told not to either.
        None if !config.managed_postgres => return Err(ConfigError::NoDatabase.into()),
        None => {
            let dir = config.data_dir.clone();
            let cluster =
                tokio::task::spawn_blocking(move || LocalCluster::start(&dir, "")).await??;
            create_database(&cluster).await?;
            config.database_url = Some(cluster.url("hookrelay"));
            Some(cluster)
        }
    };
    let url = config.database_url.clone().unwrap_or_default();
    let caps = store::Caps {
        per_webhook: config.max_in_flight_per_webhook,
        per_tenant: config.max_in_flight_per_tenant,
    };
    let pool = store::pool(&url, config.db_pool_size, Session::Api(Some(caps)))?;
    let mut client = pool.get().await.map_err(StoreError::from)?;
    migrate::run(&mut client).await?;
    drop(client);
    Ok(Database { pool, cluster })
}

async fn create_database(cluster: &LocalCluster) -> Result<(), StoreError> {
    let (client, connection) = store::pg_config(&cluster.url("postgres"))?
        .connect(tokio_postgres::NoTls)
        .await?;
    let driver = tokio::spawn(connection);
    if client.query_opt(sql::DATABASE_EXISTS, &[]).await?.is_none() {
        client.batch_execute(sql::DATABASE_CREATE).await?;
    }
    drop(client);
    let _ = driver.await;
    Ok(())
}

/// Connections of the worker pool: the producer, the completer, the idle
/// producer's next-due look-up and the rescuer each use one at a time.
const WORKER_CONNECTIONS: usize = 4;

pub struct Application {
    port: u16,
    server: actix_web::dev::Server,
    /// The NOTIFY debouncer and the retention sweeper: aborted at shutdown.
    background: Vec<tokio::task::JoinHandle<()>>,
    workers: Option<Workers>,
    cluster: Option<LocalCluster>,
    config: Config,
}

impl Application {
    pub async fn build(mut config: Config) -> Result<Application, StartupError> {
        config.validate()?;
        // The managed cluster's key lives beside its data, made on first start.
        if config.keys.sealing_with().is_none()
            && config.database_url.is_none()
            && config.managed_postgres
        {
            let key = sealing::key_file(&config.data_dir).map_err(ConfigError::from)?;
            config.keys = Keys::parse(Some(&key), None).map_err(ConfigError::from)?;
        }
        // The first thing said: whether a dump of the database holds credentials.
        match config.keys.sealing_with() {
            Some(key) => tracing::info!(
                key,
                "signing secrets and custom header values are stored sealed with this key"
            ),
            None => tracing::warn!(
                "HOOKRELAY_ENCRYPTION_KEY is unset: signing secrets and custom header values \
                 are stored in clear, readable by anyone with the database or a backup of it"
            ),
        }
        let Database { pool, cluster } = database(&mut config).await?;
        let listener = TcpListener::bind(config.listen).map_err(|source| StartupError::Listen {
            addr: config.listen,
            source,
        })?;
        let bound = listener.local_addr().map_err(StartupError::Server)?;
        let port = bound.port();
        let wakeup = Wakeup::default();
        let metrics = Arc::new(Metrics::new(config.workers)?);
        // A few writers, so one batch's commit overlaps the next one's statement,
        // each on a connection of its own (see `Session::Ingest`).
        let url = config.database_url.clone().unwrap_or_default();
        let writers = (config.db_pool_size / 4).clamp(1, 4);
        let (ingest, mut background) =
            Ingest::spawn(store::pool(&url, writers, Session::Ingest)?, writers);
        background.push(wakeup.spawn_notifier(pool.clone()));
        background.push(retention::spawn(pool.clone(), config.retention));
        background.push(sealing::spawn_resealer(pool.clone(), config.keys.clone()));
        // Shared by the API, which announces its changes to webhooks here before
        // answering, and the workers, which read it when an attempt starts.
        let targets = Arc::new(Targets::new(config.keys.clone()));
        // The event-type catalog, cached for POST /events.
        let catalog = Arc::new(Catalog::default());
        // One LISTEN connection keeps both caches true, and wakes the producer.
        background.push(workers::listener::spawn(
            url.clone(),
            vec![catalog.clone(), targets.clone(), wakeup.local()],
        ));
        let state = Data::new(AppState {
            catalog,
            targets: targets.clone(),
            pool: pool.clone(),
            ingest,
            public_url: config.public_url_on(bound),
            config: config.clone(),
            wakeup: wakeup.clone(),
            metrics: metrics.clone(),
            auth_failures: Default::default(),
            tenant_tokens: Default::default(),
        });
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .wrap(actix_web::middleware::from_fn(api::log_request))
                .configure(console::routes)
                .configure(api::routes)
        })
        .listen(listener)
        .map_err(StartupError::Server)?
        .disable_signals()
        .shutdown_timeout(config.shutdown_grace.as_secs().max(1))
        .run();
        let workers = if config.workers > 0 {
            let sender = Sender::new(
                config.delivery_timeout,
                config.allow_private_targets,
                config.outbound_proxy.as_ref(),
            )?;
            // The workers get their own few connections: the queue's writes may
            // commit without waiting for the disk, and a busy queue cannot take
            // the connections the API needs.
            let queue_pool = store::pool(&url, WORKER_CONNECTIONS, Session::Queue)?;
            Some(Workers::start(
                queue_pool,
                config.clone(),
                sender,
                wakeup.local(),
                metrics,
                targets,
            ))
        } else {
            None
        };
        tracing::info!(port, workers = config.workers, "hookrelay is serving");
        Ok(Application {
            port,
            server,
            background,
            workers,
            cluster,
            config,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGTERM or SIGINT, then shuts down in order.
    pub async fn run_until_stopped(self) -> Result<(), StartupError> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `stop` completes, then shuts down in order.
    pub async fn run_until(self, stop: impl Future<Output = ()>) -> Result<(), StartupError> {
        let handle = self.server.handle();
        let mut server = tokio::spawn(self.server);
        let early = tokio::select! {
            _ = stop => None,
            r = &mut server => Some(r),
        };
        tracing::info!("shutting down: no new requests, no new claims");
        let grace = self.config.shutdown_grace;
        let workers = async {
            if let Some(w) = self.workers {
                w.shutdown(grace).await;
            }
        };
        tokio::join!(handle.stop(true), workers);
        for task in &self.background {
            task.abort();
        }
        let served = match early {
            Some(r) => r,
            None => server.await,
        };
        if let Some(cluster) = self.cluster.filter(LocalCluster::started_here) {
            tokio::task::spawn_blocking(move || cluster.stop()).await??;
        }
        served?.map_err(StartupError::Server)?;
        tracing::info!("stopped");
        Ok(())
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without signal handlers the process can still be killed; serve on.
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
