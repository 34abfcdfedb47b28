//! Logs on stderr, as text or JSON lines (`HOOKRELAY_LOG_FORMAT`); `RUST_LOG` filters.
//!
//! Nothing logged carries a secret: `Secret`'s Debug is redacted, secrets are
//! never put in log fields, and tokio-postgres, which logs statement parameters
//! (a webhook's secret among them) at debug level, is held at warn whatever
//! RUST_LOG asks for.
//!
//! Text logs are coloured only when stderr is a terminal: written to a file, a
//! pipe or a log collector, colour codes are noise in every line.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

const QUIET_PARAMETERS: &str = "tokio_postgres=warn";

pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info"))
        .add_directive(QUIET_PARAMETERS.parse().expect("a valid directive"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    // A second init (tests start many apps in one process) keeps the first subscriber.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
