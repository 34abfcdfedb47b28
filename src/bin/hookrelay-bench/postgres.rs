//! The database server the bench runs hookrelay against, and the few queries
//! the bench makes of it directly.
//!
//! Every scenario gets a fresh database on the one server, so that no
//! scenario's rows or statistics bend another's figures, while the server's
//! start-up is paid once. Without DATABASE_URL the bench starts a private
//! cluster of its own and removes it at the end.

use std::path::PathBuf;

use hookrelay::store::local_cluster::LocalCluster;
use tokio_postgres::NoTls;

use crate::support::BenchResult;

/// The database server: a private cluster, or the one DATABASE_URL names.
pub struct Postgres {
    cluster: Option<LocalCluster>,
    dir: Option<PathBuf>,
    admin_url: String,
}

impl Postgres {
    pub fn start() -> BenchResult<Postgres> {
        if let Ok(url) = std::env::var("DATABASE_URL") {
            return Ok(Postgres {
                cluster: None,
                dir: None,
                admin_url: url,
            });
        }
        let dir = std::env::temp_dir().join(format!("hookrelay-bench-{}", std::process::id()));
        // The same settings a user's managed cluster has: durable commits.
        let cluster = LocalCluster::start(&dir, "shared_buffers = 256MB\n")?;
        let admin_url = cluster.url("postgres");
        Ok(Postgres {
            cluster: Some(cluster),
            dir: Some(dir),
            admin_url,
        })
    }

    /// A new empty database; returns its URL.
    pub async fn fresh(&self) -> BenchResult<String> {
        let name = format!("bench_{}", uuid::Uuid::new_v4().simple());
        let admin = connect(&self.admin_url).await?;
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await?;
        let base = self
            .admin_url
            .rsplit_once('/')
            .map_or(self.admin_url.as_str(), |(b, _)| b);
        Ok(format!("{base}/{name}"))
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some(c) = &self.cluster {
            let _ = c.kill();
        }
        if let Some(d) = &self.dir {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

pub async fn connect(url: &str) -> BenchResult<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

/// Writes out what setting a scenario up left in the database's buffers, so
/// that the checkpoint it would cause does not fall in the measured window:
/// `tenants` makes 30,000 API calls before it measures ingest, `ingest` one.
/// Best effort: as a user without the privilege, the run goes on without it.
pub async fn settle(url: &str) {
    if let Ok(db) = connect(url).await {
        let _ = db.batch_execute("CHECKPOINT").await;
    }
}

/// Deliveries not yet finished, counted in the queue's partial indexes, so
/// polling does not disturb a table of millions of finished rows.
pub async fn count_unfinished(db: &tokio_postgres::Client) -> BenchResult<i64> {
    Ok(db
        .query_one(
            "SELECT (SELECT count(*) FROM deliveries WHERE status = 'pending' AND NOT held)
                  + (SELECT count(*) FROM deliveries WHERE status = 'processing')",
            &[],
        )
        .await?
        .get(0))
}
