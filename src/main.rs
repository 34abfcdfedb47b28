//! The `hookrelay` command: `serve` (the default), `migrate` or `healthcheck`.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use hookrelay::config::{Cli, Command, Config};
use hookrelay::healthcheck;
use hookrelay::startup::{self, Application, StartupError};
use hookrelay::store::local_cluster::LocalCluster;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Before validation: a health check answers 0 or 1 only (a container runtime
    // reserves 2), needs nothing but the listen address, and is not the place to
    // report settings that `serve` itself refuses.
    if let Some(Command::Healthcheck) = cli.command {
        return check_health(cli.settings.listen);
    }
    let config = match Config::from_settings(cli.settings) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("hookrelay: {e}");
            return ExitCode::from(2);
        }
    };
    let exporter = match hookrelay::telemetry::init_exporting(
        config.log_format,
        config.otlp_traces_endpoint.as_ref(),
        &config.otel_service_name,
    ) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("hookrelay: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("hookrelay: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => Application::build(config).await?.run_until_stopped().await,
            Command::Migrate => migrate(config).await,
            // Answered above, before the settings were validated.
            Command::Healthcheck => Ok(()),
        }
    });
    // After the runtime: the spans of the last deliveries are sent before exit.
    drop(runtime);
    if let Some(exporter) = exporter {
        exporter.shutdown();
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hookrelay: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn migrate(mut config: Config) -> Result<(), StartupError> {
    let db = startup::database(&mut config).await?;
    db.pool.close();
    if let Some(cluster) = db.cluster.filter(LocalCluster::started_here) {
        tokio::task::spawn_blocking(move || cluster.stop()).await??;
    }
    Ok(())
}

fn check_health(listen: SocketAddr) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("hookrelay healthcheck: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(healthcheck::check(listen, healthcheck::TIMEOUT)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hookrelay healthcheck: {e}");
            ExitCode::FAILURE
        }
    }
}
