//! Starting hookrelay: settings it refuses before serving anything, and the
//! managed cluster where the `postgres` user cannot go.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use hookrelay::config::ConfigError;
use hookrelay::startup::{Application, StartupError};
use hookrelay::store::local_cluster::{LocalCluster, THROWAWAY_SETTINGS};
use tokio_postgres::NoTls;
use uuid::Uuid;

use crate::helpers::{closed_port, eventually, fresh_database, test_config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hookrelay_refuses_a_lease_shorter_than_the_delivery_timeout() {
    // A real database: without the check, hookrelay would start serving.
    let url = fresh_database().await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_hookrelay"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DATABASE_URL", &url)
        .env("HOOKRELAY_LISTEN", format!("127.0.0.1:{}", closed_port()))
        .env("HOOKRELAY_LEASE", "2s")
        .env("HOOKRELAY_DELIVERY_TIMEOUT", "6s")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start hookrelay");
    let exited = eventually(Duration::from_secs(20), || {
        let done = matches!(child.try_wait(), Ok(Some(_)));
        async move { done }
    })
    .await;
    if !exited {
        let _ = child.kill();
        let _ = child.wait();
        panic!("hookrelay started with a 2s lease and a 6s delivery timeout");
    }
    let out = child
        .wait_with_output()
        .expect("collect hookrelay's output");
    assert!(!out.status.success(), "{:?}", out.status);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    for shown in ["2s", "6s", "8s"] {
        assert!(lines[0].contains(shown), "{shown} in {stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_built_in_code_is_held_to_the_same_lease_rule() {
    let mut config = test_config(fresh_database().await);
    config.lease = Duration::from_secs(2);
    config.delivery_timeout = Duration::from_secs(6);
    let built = Application::build(config).await;
    assert!(
        matches!(
            built,
            Err(StartupError::Config(ConfigError::ShortLease { .. }))
        ),
        "built with a 2s lease and a 6s timeout"
    );
}

/// A directory of the test's own, and the clusters started for it: stopped and
/// removed however the test ends.
struct PrivateCluster {
    outer: PathBuf,
    clusters: Vec<LocalCluster>,
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        for cluster in &self.clusters {
            let _ = cluster.kill();
            if let Some(home) = cluster.data_dir().parent() {
                if !home.starts_with(&self.outer) {
                    let _ = std::fs::remove_dir_all(home);
                }
            }
        }
        let _ = std::fs::remove_dir_all(&self.outer);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn as_root_the_managed_cluster_runs_from_a_directory_postgres_cannot_enter() {
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    if !root {
        eprintln!("skipped: only root hands the cluster to the postgres user");
        return;
    }
    // As in a checkout under /root: a 0700 directory of root's above the data dir.
    let outer = std::env::temp_dir().join(format!("hookrelay-private-{}", Uuid::new_v4().simple()));
    std::fs::create_dir(&outer).unwrap();
    std::fs::set_permissions(&outer, std::fs::Permissions::from_mode(0o700)).unwrap();
    let mut guard = PrivateCluster {
        outer: outer.clone(),
        clusters: Vec::new(),
    };

    let first = start(&mut guard, &outer.join("data")).await;
    let client = connect(&first).await;
    let one: i32 = client.query_one("SELECT 1", &[]).await.unwrap().get(0);
    assert_eq!(one, 1);
    client.batch_execute("CREATE DATABASE kept").await.unwrap();
    drop(client);
    // The data dir says where the cluster went.
    assert_eq!(
        std::fs::read_link(outer.join("data/pgdata"))
            .ok()
            .as_deref(),
        Some(first.data_dir()),
        "data/pgdata links to the cluster's data"
    );
    stop(&first).await;

    // The next run of the same checkout, even moved, finds the same cluster.
    let moved = outer.with_extension("moved");
    std::fs::rename(&outer, &moved).unwrap();
    guard.outer = moved.clone();
    let second = start(&mut guard, &moved.join("data")).await;
    assert_eq!(second.data_dir(), first.data_dir());
    let client = connect(&second).await;
    let kept = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = 'kept'", &[])
        .await
        .unwrap();
    assert!(kept.is_some(), "the first run's database is still there");
    drop(client);
    stop(&second).await;
}

async fn start(guard: &mut PrivateCluster, data: &Path) -> LocalCluster {
    let data = data.to_owned();
    let started =
        tokio::task::spawn_blocking(move || LocalCluster::start(&data, THROWAWAY_SETTINGS))
            .await
            .unwrap()
            .expect("start the managed cluster");
    guard.clusters.push(started.clone());
    started
}

async fn connect(cluster: &LocalCluster) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&cluster.url("postgres"), NoTls)
        .await
        .expect("connect to the managed cluster");
    tokio::spawn(connection);
    client
}

async fn stop(cluster: &LocalCluster) {
    let cluster = cluster.clone();
    tokio::task::spawn_blocking(move || cluster.stop())
        .await
        .unwrap()
        .expect("stop the managed cluster");
}
