//! Starting hookrelay: settings it refuses before serving anything.

use std::process::{Command, Stdio};
use std::time::Duration;

use hookrelay::config::ConfigError;
use hookrelay::startup::{Application, StartupError};

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
