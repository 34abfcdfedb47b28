//! The `hookrelay` command: `serve` (the default) or `migrate`.

use std::process::ExitCode;

use clap::Parser;
use hookrelay::config::{Cli, Command, Config};
use hookrelay::startup::{self, Application, StartupError};
use hookrelay::store::local_cluster::LocalCluster;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::from_settings(cli.settings) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("hookrelay: {e}");
            return ExitCode::from(2);
        }
    };
    hookrelay::telemetry::init(config.log_format);
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
        }
    });
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
