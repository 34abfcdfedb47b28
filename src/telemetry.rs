//! Logs on stderr, as text or JSON lines (`HOOKRELAY_LOG_FORMAT`); `RUST_LOG` filters.
//!
//! Nothing logged carries a secret: `Secret`'s Debug is redacted, secrets are
//! never put in log fields, and tokio-postgres, which logs statement parameters
//! (a webhook's secret among them) at debug level, is held at warn whatever
//! RUST_LOG asks for.
//!
//! Text logs are coloured only when stderr is a terminal: written to a file, a
//! pipe or a log collector, colour codes are noise in every line.

//!
//! With `OTEL_EXPORTER_OTLP_ENDPOINT` set, a second layer exports hookrelay's
//! spans (`otel.rs`) beside the logs; unset, the subscriber is the plain
//! log subscriber it always was.

use std::io::IsTerminal;

use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::LogFormat;
use crate::otel::{self, Exporter, OtelError};

const QUIET_PARAMETERS: &str = "tokio_postgres=warn";

fn filter() -> EnvFilter {
    EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info"))
        .add_directive(QUIET_PARAMETERS.parse().expect("a valid directive"))
}

pub fn init(format: LogFormat) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    // A second init (tests start many apps in one process) keeps the first subscriber.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Logs as `init`, and spans exported to `traces_url` when there is one.
/// The exporter returned must be shut down when the process ends, to send
/// the last spans. Call it before any async runtime starts.
pub fn init_exporting(
    format: LogFormat,
    traces_url: Option<&url::Url>,
    service_name: &str,
) -> Result<Option<Exporter>, OtelError> {
    let Some(url) = traces_url else {
        init(format);
        return Ok(None);
    };
    let (exporter, tracer) = Exporter::start(url, service_name)?;
    // Each layer filters for itself: the logs as RUST_LOG says, without our
    // spans (a log line keeps its usual shape); the exporter our spans only,
    // whatever RUST_LOG says, and no log lines.
    let logs = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let logs = match format {
        LogFormat::Text => logs.boxed(),
        LogFormat::Json => logs.json().boxed(),
    };
    let no_spans = format!("{}=off", otel::TARGET)
        .parse()
        .expect("a valid directive");
    let spans = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_threads(false)
        .with_location(false)
        .with_filter(Targets::new().with_target(otel::TARGET, tracing::Level::INFO));
    let installed = tracing_subscriber::registry()
        .with(logs.with_filter(filter().add_directive(no_spans)))
        .with(spans)
        .try_init();
    if installed.is_ok() {
        exporter.announce();
    }
    Ok(Some(exporter))
}
