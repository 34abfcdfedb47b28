//! What the container image relies on, run as the image runs it: the
//! `hookrelay healthcheck` subcommand (its HEALTHCHECK) and
//! `HOOKRELAY_MANAGED_POSTGRES=false` (set in the image, so a missing
//! DATABASE_URL is one clear line, not an attempt to start Postgres).

use std::process::Output;

use crate::helpers::{closed_port, spawn_app};

/// `hookrelay <args>` with only `env` set, as in a container with nothing else.
async fn hookrelay(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_hookrelay"));
    cmd.env_clear().args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().await.expect("run hookrelay")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthcheck_passes_where_the_settings_say_hookrelay_listens() {
    let app = spawn_app().await;
    let port = app
        .address
        .rsplit_once(':')
        .map(|(_, p)| p.to_owned())
        .expect("the app's address has a port");
    assert_ne!(port, "8080", "the point is a port other than the default");
    let listen = format!("127.0.0.1:{port}");
    let by_env = hookrelay(&["healthcheck"], &[("HOOKRELAY_LISTEN", &listen)]).await;
    assert_eq!(by_env.status.code(), Some(0), "{}", stderr(&by_env));
    let by_flag = hookrelay(&["healthcheck", "--listen", &listen], &[]).await;
    assert_eq!(by_flag.status.code(), Some(0), "{}", stderr(&by_flag));
    // The image listens on 0.0.0.0 (without tokens `serve` would refuse that;
    // the probe does not care): the check goes to loopback on the same port.
    let unspecified = hookrelay(
        &["healthcheck"],
        &[("HOOKRELAY_LISTEN", &format!("0.0.0.0:{port}"))],
    )
    .await;
    assert_eq!(
        unspecified.status.code(),
        Some(0),
        "{}",
        stderr(&unspecified)
    );
    app.shutdown().await;
}

#[tokio::test]
async fn healthcheck_fails_with_exit_1_when_nothing_listens() {
    let listen = format!("127.0.0.1:{}", closed_port());
    let out = hookrelay(&["healthcheck"], &[("HOOKRELAY_LISTEN", &listen)]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stderr(&out);
    assert_eq!(text.trim_end().lines().count(), 1, "one line: {text}");
    assert!(text.contains(&format!("http://{listen}/healthz")), "{text}");
}

#[tokio::test]
async fn without_managed_postgres_a_missing_database_url_is_one_clean_line() {
    let data_dir = std::env::temp_dir().join(format!(
        "hookrelay-no-cluster-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let data_dir = data_dir.to_string_lossy().into_owned();
    // The image's own settings, and nothing else: what `docker run` with no
    // environment gives. The missing database is named first, before the open
    // address without API tokens.
    let image_env = [
        ("HOOKRELAY_MANAGED_POSTGRES", "false"),
        ("HOOKRELAY_LISTEN", "0.0.0.0:8080"),
        ("HOOKRELAY_LOG_FORMAT", "json"),
        ("HOOKRELAY_DATA_DIR", data_dir.as_str()),
    ];
    for command in ["serve", "migrate"] {
        let out = hookrelay(&[command], &image_env).await;
        assert!(!out.status.success(), "{command} exited 0");
        let text = stderr(&out);
        assert_eq!(text.trim_end().lines().count(), 1, "{command}: {text}");
        assert!(
            text.starts_with("hookrelay: DATABASE_URL is unset"),
            "{text}"
        );
        assert!(text.contains("HOOKRELAY_MANAGED_POSTGRES"), "{text}");
    }
    // The flag says the same as the env var.
    let out = hookrelay(&["--managed-postgres", "false"], &image_env[3..]).await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("DATABASE_URL is unset"),
        "{}",
        stderr(&out)
    );
    assert!(
        !std::path::Path::new(&data_dir).exists(),
        "no cluster was started under {data_dir}"
    );
}
