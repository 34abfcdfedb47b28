//! Every setting hookrelay reads, from env vars and matching flags, validated once.
//!
//! `Settings` is what clap parses (so `hookrelay --help` lists every setting with
//! its env var and default); `Config` is the checked result the rest of the code
//! holds. Anything that can be wrong with a setting is reported here, at start-up,
//! never in the middle of a delivery.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::store::sealing::{KeyError, Keys};

#[derive(Debug, Parser)]
#[command(
    name = "hookrelay",
    version,
    about = "Webhook delivery on one Postgres"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub settings: Settings,
}

#[derive(Debug, Clone, Copy, Subcommand)]
pub enum Command {
    /// Apply pending migrations, then serve the API and run the delivery workers (the default).
    Serve,
    /// Apply pending migrations and exit.
    Migrate,
    /// Exit 0 when /healthz at HOOKRELAY_LISTEN answers 200 within 2s, else 1
    /// (the container's HEALTHCHECK: it follows the same settings as `serve`).
    Healthcheck,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// Postgres connection URL. Unset: hookrelay runs its own local cluster under the data dir.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true)]
    pub database_url: Option<String>,

    /// Without DATABASE_URL, start and manage a local Postgres cluster; false makes
    /// DATABASE_URL required (a container has no Postgres to start).
    #[arg(long, env = "HOOKRELAY_MANAGED_POSTGRES", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub managed_postgres: bool,

    /// Where the managed local Postgres keeps its data (used only without DATABASE_URL).
    #[arg(
        long,
        env = "HOOKRELAY_DATA_DIR",
        default_value = "./.hookrelay",
        global = true
    )]
    pub data_dir: PathBuf,

    /// Address the HTTP API listens on.
    #[arg(
        long,
        env = "HOOKRELAY_LISTEN",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub listen: SocketAddr,

    /// Concurrent deliveries in this process; 0 runs the API alone.
    #[arg(long, env = "HOOKRELAY_WORKERS", default_value_t = 64, global = true)]
    pub workers: usize,

    /// Comma-separated bearer tokens. Unset is allowed only on a loopback listen address.
    #[arg(
        long,
        env = "HOOKRELAY_API_TOKENS",
        hide_env_values = true,
        global = true
    )]
    pub api_tokens: Option<String>,

    /// The address users reach hookrelay at, as they type it in a browser:
    /// portal links start with it, and an https one makes session cookies Secure.
    /// Default: http://<HOOKRELAY_LISTEN>.
    #[arg(long, env = "HOOKRELAY_PUBLIC_URL", value_parser = parse_public_url, global = true)]
    pub public_url: Option<url::Url>,

    /// Which sites may show the tenant portal in a frame: the CSP frame-ancestors
    /// sources, space-separated (e.g. "https://app.example.com"). The operator
    /// console may never be framed.
    #[arg(
        long,
        env = "HOOKRELAY_PORTAL_FRAME_ANCESTORS",
        default_value = "'none'",
        value_parser = parse_frame_ancestors,
        global = true
    )]
    pub portal_frame_ancestors: String,

    /// The operator's name, shown on the tenant portal (its header and page
    /// titles) in place of hookrelay's.
    #[arg(long, env = "HOOKRELAY_PORTAL_TITLE", value_parser = parse_portal_title, global = true)]
    pub portal_title: Option<String>,

    /// The portal's accent colour (links, buttons), a CSS colour: #rgb,
    /// #rrggbb, a name, or rgb()/hsl().
    #[arg(long, env = "HOOKRELAY_PORTAL_ACCENT", value_parser = parse_css_color, global = true)]
    pub portal_accent: Option<String>,

    /// Largest accepted request body, in bytes (suffixes KiB and MiB allowed).
    #[arg(long, env = "HOOKRELAY_MAX_PAYLOAD", default_value = "256KiB", value_parser = parse_size, global = true)]
    pub max_payload: usize,

    /// How long a receiver has to answer one attempt.
    #[arg(long, env = "HOOKRELAY_DELIVERY_TIMEOUT", default_value = "10s", value_parser = parse_duration, global = true)]
    pub delivery_timeout: Duration,

    /// Delays between attempts: after the n-th failed attempt, the next is due n-th delay later.
    #[arg(long, env = "HOOKRELAY_RETRY_SCHEDULE", default_value = "1s,4s,16s,64s,256s", value_parser = parse_schedule, global = true)]
    pub retry_schedule: RetrySchedule,

    /// Deliver to loopback, private and other internal addresses (local development and tests).
    #[arg(long, env = "HOOKRELAY_ALLOW_PRIVATE_TARGETS", default_value_t = false, action = clap::ArgAction::Set, global = true)]
    pub allow_private_targets: bool,

    /// Send every delivery through this HTTP(S) proxy, e.g. http://egress:3128.
    /// The proxy must then enforce the egress policy: hookrelay still refuses
    /// webhook URLs that are literal private addresses, but hostnames are
    /// resolved by the proxy, out of the address guard's sight. Unset: no proxy,
    /// whatever HTTP_PROXY, HTTPS_PROXY or ALL_PROXY say.
    #[arg(long, env = "HOOKRELAY_OUTBOUND_PROXY", value_parser = parse_proxy, hide_env_values = true, global = true)]
    pub outbound_proxy: Option<url::Url>,

    /// How long a claimed delivery stays claimed before another worker may take it back.
    /// Default: delivery timeout + 30s; at least delivery timeout + 2s.
    #[arg(long, env = "HOOKRELAY_LEASE", value_parser = parse_duration, global = true)]
    pub lease: Option<Duration>,

    /// On SIGTERM, how long in-flight deliveries get to finish.
    #[arg(long, env = "HOOKRELAY_SHUTDOWN_GRACE", default_value = "30s", value_parser = parse_duration, global = true)]
    pub shutdown_grace: Duration,

    /// Longest an idle worker pool waits before looking for due deliveries on its own
    /// (new events and retries wake it sooner).
    #[arg(long, env = "HOOKRELAY_POLL_INTERVAL", default_value = "1s", value_parser = parse_duration, global = true)]
    pub poll_interval: Duration,

    /// Most attempts to one webhook under way at once (claimed or sending),
    /// counted across every process sharing the database, for webhooks that
    /// set no max_in_flight of their own. Whatever it is, a process never
    /// gives one webhook more than half its workers, so one slow receiver
    /// cannot take them all. Default: twice HOOKRELAY_WORKERS.
    #[arg(long, env = "HOOKRELAY_MAX_IN_FLIGHT_PER_WEBHOOK", global = true)]
    pub max_in_flight_per_webhook: Option<usize>,

    /// Most attempts of one tenant, all its webhooks together, under way at
    /// once (claimed or sending) across every process. Whatever it is, a
    /// process never gives one tenant more than half its workers, so one
    /// customer's slow endpoints cannot take them all. Tenant default, where
    /// everything goes when tenants are not used, has neither. Default: twice
    /// HOOKRELAY_WORKERS.
    #[arg(long, env = "HOOKRELAY_MAX_IN_FLIGHT_PER_TENANT", global = true)]
    pub max_in_flight_per_tenant: Option<usize>,

    /// Refuse events, and webhook subscriptions, naming an event type that is
    /// not in the catalog (PUT /event-types/{type}) or is archived there.
    #[arg(long, env = "HOOKRELAY_REQUIRE_EVENT_TYPES", default_value_t = false, action = clap::ArgAction::Set, global = true)]
    pub require_event_types: bool,

    /// How long finished deliveries, their attempts, and events with nothing
    /// left to deliver are kept.
    #[arg(long, env = "HOOKRELAY_RETENTION", default_value = "30d", value_parser = parse_duration, global = true)]
    pub retention: Duration,

    /// Disable a webhook whose attempts have all failed for this long (and at
    /// least 10 of them), holding its deliveries; 0 never does.
    #[arg(long, env = "HOOKRELAY_AUTO_DISABLE_AFTER", default_value = "5d", value_parser = parse_duration, global = true)]
    pub auto_disable_after: Duration,

    /// Database connections of the API; the event writers keep a quarter of
    /// that (1 to 4) of their own, the workers 4.
    #[arg(
        long,
        env = "HOOKRELAY_DB_POOL_SIZE",
        default_value_t = 16,
        global = true
    )]
    pub db_pool_size: usize,

    /// 32 random bytes in base64 (`openssl rand -base64 32`): signing secrets
    /// and custom header values are stored sealed with it (AES-256-GCM), so a
    /// database dump holds none of them. Unset: stored in clear, which the
    /// first log line says; the managed local Postgres makes one in the data dir.
    #[arg(
        long,
        env = "HOOKRELAY_ENCRYPTION_KEY",
        hide_env_values = true,
        global = true
    )]
    pub encryption_key: Option<String>,

    /// The key before HOOKRELAY_ENCRYPTION_KEY, during a change of keys: values
    /// it sealed are still read, and re-sealed with the new key in the background.
    #[arg(
        long,
        env = "HOOKRELAY_ENCRYPTION_KEY_PREVIOUS",
        hide_env_values = true,
        global = true
    )]
    pub encryption_key_previous: Option<String>,

    /// Log format on stderr.
    #[arg(
        long,
        env = "HOOKRELAY_LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    pub log_format: LogFormat,

    /// Where to export traces over OTLP/HTTP (protobuf), e.g.
    /// `http://localhost:4318`: spans go to `<this>/v1/traces`. Unset: no
    /// spans are made or exported.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT", value_parser = parse_otlp_endpoint, global = true)]
    pub otel_exporter_otlp_endpoint: Option<url::Url>,

    /// The `service.name` exported spans carry.
    #[arg(
        long,
        env = "OTEL_SERVICE_NAME",
        default_value = "hookrelay",
        global = true
    )]
    pub otel_service_name: String,
}

/// The retry delays, in order. Never empty of meaning: zero delays means one attempt only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule(pub Vec<Duration>);

impl RetrySchedule {
    /// Attempts a delivery gets in one budget: the first plus one per delay.
    pub fn max_attempts(&self) -> i32 {
        i32::try_from(self.0.len()).unwrap_or(i32::MAX - 1) + 1
    }

    /// The delay after the `n`-th failed attempt (1-based), or `None` when the budget is spent.
    pub fn delay_after(&self, failed_attempts: i32) -> Option<Duration> {
        let index = usize::try_from(failed_attempts).ok()?.checked_sub(1)?;
        self.0.get(index).copied()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "DATABASE_URL is unset and HOOKRELAY_MANAGED_POSTGRES is false: \
         set DATABASE_URL to the Postgres database hookrelay should use"
    )]
    NoDatabase,
    #[error(
        "HOOKRELAY_LISTEN is {0}, which is not a loopback address, and HOOKRELAY_API_TOKENS is unset: \
         set API tokens, or listen on 127.0.0.1"
    )]
    OpenWithoutTokens(SocketAddr),
    #[error("HOOKRELAY_API_TOKENS holds an empty token")]
    EmptyToken,
    #[error(
        "HOOKRELAY_API_TOKENS holds a token starting with {}, which marks tenant tokens: choose another",
        crate::domain::TENANT_TOKEN_PREFIX
    )]
    TenantPrefixedToken,
    #[error("{0} must be at least 1")]
    NoInFlight(&'static str),
    #[error("HOOKRELAY_DB_POOL_SIZE must be at least 1")]
    NoPool,
    #[error("HOOKRELAY_DELIVERY_TIMEOUT must be more than zero")]
    ZeroTimeout,
    #[error(
        "HOOKRELAY_LEASE is {}, too short for HOOKRELAY_DELIVERY_TIMEOUT {}: a lease must be at least \
         the timeout + {}, so at least {} (a shorter one runs out mid-send and the delivery is sent twice at once)",
        show(*lease), show(*timeout), show(LEASE_MARGIN), show(*timeout + LEASE_MARGIN)
    )]
    ShortLease { lease: Duration, timeout: Duration },
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// How much longer than the delivery timeout a lease must be. An attempt starts
/// only while its lease, counted from when the claim was sent, outlasts the
/// timeout by `workers::START_MARGIN` (half a second, to record the outcome),
/// so two seconds leave a claim a second and a half to wait for a free worker
/// or its rate-limit slot (at most a second ahead). With less, claims taken
/// ahead of the workers would mostly be handed back unsent.
pub const LEASE_MARGIN: Duration = Duration::from_secs(2);

fn show(d: Duration) -> humantime::FormattedDuration {
    humantime::format_duration(d)
}

/// Settings after validation; what the rest of hookrelay holds.
#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: Option<String>,
    pub managed_postgres: bool,
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub workers: usize,
    pub api_tokens: Vec<String>,
    /// None: `http://<listen>`, with the port actually bound (`public_url_on`).
    pub public_url: Option<url::Url>,
    /// CSP frame-ancestors sources of the portal, already checked.
    pub portal_frame_ancestors: String,
    pub portal_title: Option<String>,
    pub portal_accent: Option<String>,
    pub max_payload: usize,
    pub delivery_timeout: Duration,
    pub retry_schedule: RetrySchedule,
    pub allow_private_targets: bool,
    pub outbound_proxy: Option<url::Url>,
    pub lease: Duration,
    pub shutdown_grace: Duration,
    pub poll_interval: Duration,
    pub max_in_flight_per_webhook: usize,
    pub max_in_flight_per_tenant: usize,
    pub require_event_types: bool,
    pub retention: Duration,
    /// Zero: never.
    pub auto_disable_after: Duration,
    pub db_pool_size: usize,
    pub log_format: LogFormat,
    /// Where spans are exported (`<endpoint>/v1/traces`); none: tracing is off.
    pub otlp_traces_endpoint: Option<url::Url>,
    pub otel_service_name: String,
    /// What secrets and header values are sealed with at rest (none: in clear).
    pub keys: Keys,
}

impl Config {
    pub fn from_settings(s: Settings) -> Result<Config, ConfigError> {
        // First: in a container this is the mistake to name, before any other.
        if s.database_url.is_none() && !s.managed_postgres {
            return Err(ConfigError::NoDatabase);
        }
        let api_tokens: Vec<String> = match &s.api_tokens {
            None => Vec::new(),
            Some(list) => list.split(',').map(|t| t.trim().to_owned()).collect(),
        };
        let config = Config {
            lease: s
                .lease
                .unwrap_or(s.delivery_timeout + Duration::from_secs(30)),
            database_url: s.database_url,
            managed_postgres: s.managed_postgres,
            data_dir: s.data_dir,
            listen: s.listen,
            workers: s.workers,
            api_tokens,
            public_url: s.public_url,
            portal_frame_ancestors: s.portal_frame_ancestors,
            portal_title: s.portal_title,
            portal_accent: s.portal_accent,
            max_payload: s.max_payload,
            delivery_timeout: s.delivery_timeout,
            retry_schedule: s.retry_schedule,
            allow_private_targets: s.allow_private_targets,
            outbound_proxy: s.outbound_proxy,
            shutdown_grace: s.shutdown_grace,
            poll_interval: s.poll_interval,
            // Counted over claims, across processes: twice the workers keeps
            // every worker of a process busy on one fast receiver, with
            // claims waiting behind its sends (at half the workers, one
            // webhook drained 2,800/s instead of 7,400/s). A hanging receiver
            // still holds no more than half of a process's workers
            // (workers/shares.rs).
            max_in_flight_per_webhook: s
                .max_in_flight_per_webhook
                .unwrap_or((s.workers * 2).max(1)),
            // The same for a tenant, all its webhooks together.
            max_in_flight_per_tenant: s.max_in_flight_per_tenant.unwrap_or((s.workers * 2).max(1)),
            require_event_types: s.require_event_types,
            retention: s.retention,
            auto_disable_after: s.auto_disable_after,
            db_pool_size: s.db_pool_size,
            log_format: s.log_format,
            otlp_traces_endpoint: s.otel_exporter_otlp_endpoint,
            otel_service_name: s.otel_service_name,
            keys: Keys::parse(
                s.encryption_key.as_deref(),
                s.encryption_key_previous.as_deref(),
            )?,
        };
        config.validate()?;
        Ok(config)
    }

    /// Every check on the settings together. `Application::build` runs it too,
    /// so a `Config` assembled in code (as the tests do) is held to the same rules.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.api_tokens.iter().any(String::is_empty) {
            return Err(ConfigError::EmptyToken);
        }
        // An operator token read as a tenant's would be refused, or worse, be one.
        if self
            .api_tokens
            .iter()
            .any(|t| t.starts_with(crate::domain::TENANT_TOKEN_PREFIX))
        {
            return Err(ConfigError::TenantPrefixedToken);
        }
        if self.api_tokens.is_empty() && !self.listen.ip().is_loopback() {
            return Err(ConfigError::OpenWithoutTokens(self.listen));
        }
        if self.max_in_flight_per_webhook == 0 {
            return Err(ConfigError::NoInFlight(
                "HOOKRELAY_MAX_IN_FLIGHT_PER_WEBHOOK",
            ));
        }
        if self.max_in_flight_per_tenant == 0 {
            return Err(ConfigError::NoInFlight(
                "HOOKRELAY_MAX_IN_FLIGHT_PER_TENANT",
            ));
        }
        if self.db_pool_size == 0 {
            return Err(ConfigError::NoPool);
        }
        if self.delivery_timeout.is_zero() {
            return Err(ConfigError::ZeroTimeout);
        }
        if self.lease < self.delivery_timeout + LEASE_MARGIN {
            return Err(ConfigError::ShortLease {
                lease: self.lease,
                timeout: self.delivery_timeout,
            });
        }
        Ok(())
    }

    /// The public URL without a trailing slash: HOOKRELAY_PUBLIC_URL, or
    /// `http://<listen address>` on the address actually bound (`listen` may
    /// name port 0).
    pub fn public_url_on(&self, bound: SocketAddr) -> String {
        match &self.public_url {
            Some(url) => url.as_str().trim_end_matches('/').to_owned(),
            None => format!("http://{bound}"),
        }
    }

    /// The defaults, as `hookrelay` with no env and no flags would run; tests start from here.
    pub fn defaults() -> Config {
        let cli = Cli::parse_from(["hookrelay"]);
        // The defaults listen on loopback, so validation cannot fail.
        Config::from_settings(cli.settings).expect("default settings are valid")
    }
}

pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim())
        .map_err(|e| format!("{s:?} is not a duration like 500ms, 10s or 5m: {e}"))
}

fn parse_proxy(s: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(s.trim()).map_err(|e| format!("is not a proxy URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err("must be an http:// or https:// URL with a host".into());
    }
    Ok(url)
}

/// The OTLP/HTTP base URL, made into the traces URL once here: the
/// specification's rule for `OTEL_EXPORTER_OTLP_ENDPOINT` is to append
/// `v1/traces` to its path.
fn parse_otlp_endpoint(s: &str) -> Result<url::Url, String> {
    let mut url = url::Url::parse(s.trim()).map_err(|e| format!("is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err("must be an http:// or https:// URL with a host".into());
    }
    let path = format!("{}/v1/traces", url.path().trim_end_matches('/'));
    url.set_path(&path);
    Ok(url)
}

/// An absolute http(s) URL with a host, and nothing a link could not be built
/// on: no query, no fragment. A path is kept (hookrelay behind a prefix).
fn parse_public_url(s: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(s.trim()).map_err(|e| format!("is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err("must be an http:// or https:// URL with a host".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must have no query (?...) and no fragment (#...)".into());
    }
    Ok(url)
}

/// A name to show: one line, not empty, at most 80 characters.
fn parse_portal_title(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s.is_empty() || s.chars().count() > 80 || s.chars().any(char::is_control) {
        return Err("must be 1 to 80 characters on one line".into());
    }
    Ok(s.to_owned())
}

/// A CSS colour, and nothing that could end the declaration it goes into:
/// `#` and 3, 4, 6 or 8 hex digits, a colour name, or rgb()/rgba()/hsl()/hsla()
/// of numbers.
fn parse_css_color(s: &str) -> Result<String, String> {
    let s = s.trim();
    let hex = s.strip_prefix('#').is_some_and(|h| {
        matches!(h.len(), 3 | 4 | 6 | 8) && h.chars().all(|c| c.is_ascii_hexdigit())
    });
    let name = !s.is_empty() && s.len() <= 32 && s.chars().all(|c| c.is_ascii_alphabetic());
    let function = ["rgb(", "rgba(", "hsl(", "hsla("].iter().any(|f| {
        s.strip_prefix(f)
            .and_then(|rest| rest.strip_suffix(')'))
            .is_some_and(|args| {
                !args.is_empty()
                    // Numbers with their units (deg, %) and separators:
                    // nothing that could end the declaration.
                    && args
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || " ,.%/".contains(c))
            })
    });
    if hex || name || function {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "{s:?} is not a CSS colour like #2457c5, teal or rgb(36 87 197)"
        ))
    }
}

/// Sources as CSP writes them ('none', 'self', https://host:port, *.example.com),
/// nothing that could end the directive or the header.
fn parse_frame_ancestors(s: &str) -> Result<String, String> {
    let sources: Vec<&str> = s.split_ascii_whitespace().collect();
    if sources.is_empty() {
        return Err("must name at least one source, or 'none'".into());
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || "'-.:/*_".contains(c);
    if let Some(bad) = sources.iter().find(|src| !src.chars().all(allowed)) {
        return Err(format!(
            "{bad:?} is not a CSP source like 'self' or https://app.example.com"
        ));
    }
    if sources.len() > 1 && sources.contains(&"'none'") {
        return Err("'none' cannot be combined with other sources".into());
    }
    Ok(sources.join(" "))
}

fn parse_schedule(s: &str) -> Result<RetrySchedule, String> {
    if s.trim().is_empty() {
        return Ok(RetrySchedule(Vec::new()));
    }
    s.split(',')
        .map(parse_duration)
        .collect::<Result<_, _>>()
        .map(RetrySchedule)
}

fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let (digits, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => t.split_at(i),
        None => (t, ""),
    };
    let n: usize = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a size like 262144, 256KiB or 1MiB"))?;
    let factor = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1024,
        "m" | "mb" | "mib" => 1024 * 1024,
        _ => return Err(format!("{s:?} has an unknown unit; use B, KiB or MiB")),
    };
    n.checked_mul(factor)
        .ok_or_else(|| format!("{s:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_gives_one_delay_per_retry_then_none() {
        let s = parse_schedule("1s,4s").unwrap();
        assert_eq!(s.max_attempts(), 3);
        assert_eq!(s.delay_after(1), Some(Duration::from_secs(1)));
        assert_eq!(s.delay_after(2), Some(Duration::from_secs(4)));
        assert_eq!(s.delay_after(3), None);
        assert_eq!(s.delay_after(0), None);
    }

    #[test]
    fn sizes_take_binary_units() {
        assert_eq!(parse_size("256KiB").unwrap(), 262_144);
        assert_eq!(parse_size("1MiB").unwrap(), 1_048_576);
        assert_eq!(parse_size("100").unwrap(), 100);
        assert!(parse_size("lots").is_err());
    }

    #[test]
    fn an_outbound_proxy_is_an_http_or_https_url() {
        assert!(parse_proxy("http://egress.internal:3128").is_ok());
        assert!(parse_proxy("https://user:pass@10.0.0.5:8443").is_ok());
        assert!(parse_proxy("socks5://127.0.0.1:1080").is_err());
        assert!(parse_proxy("egress:3128").is_err());
        assert!(Config::defaults().outbound_proxy.is_none());
    }

    #[test]
    fn the_public_url_is_http_on_the_listen_address_unless_told() {
        let bound: SocketAddr = "127.0.0.1:4321".parse().unwrap();
        assert_eq!(
            Config::defaults().public_url_on(bound),
            "http://127.0.0.1:4321"
        );
        let cli = Cli::parse_from(["hookrelay", "--public-url", "https://hooks.example.com/"]);
        let config = Config::from_settings(cli.settings).unwrap();
        assert_eq!(config.public_url_on(bound), "https://hooks.example.com");
        for bad in [
            "ftp://x",
            "hooks.example.com",
            "https://x/?a=1",
            "https://x/#f",
        ] {
            assert!(parse_public_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn operator_tokens_cannot_look_like_tenant_tokens() {
        let cli = Cli::parse_from(["hookrelay", "--api-tokens", "ok,hrt_abc"]);
        assert!(matches!(
            Config::from_settings(cli.settings),
            Err(ConfigError::TenantPrefixedToken)
        ));
    }

    #[test]
    fn without_managed_postgres_a_database_url_is_required() {
        let mut settings = Cli::parse_from(["hookrelay", "--managed-postgres", "false"]).settings;
        // Whatever DATABASE_URL the environment running the tests holds.
        settings.database_url = None;
        let err = Config::from_settings(settings.clone()).unwrap_err();
        assert!(matches!(err, ConfigError::NoDatabase));
        settings.database_url = Some("postgres://db/hookrelay".to_owned());
        assert!(Config::from_settings(settings).is_ok());
    }

    #[test]
    fn auto_disable_waits_five_days_unless_told_and_zero_means_never() {
        assert_eq!(
            Config::defaults().auto_disable_after,
            Duration::from_secs(5 * 24 * 3600)
        );
        let cli = Cli::parse_from(["hookrelay", "--auto-disable-after", "0"]);
        assert!(Config::from_settings(cli.settings)
            .unwrap()
            .auto_disable_after
            .is_zero());
    }

    #[test]
    fn portal_accents_are_colours_and_cannot_break_out_of_the_stylesheet() {
        for good in [
            "#2457c5",
            "#abc",
            "teal",
            "rgb(36 87 197)",
            "hsl(220deg 69% 46% / .9)",
        ] {
            assert!(parse_css_color(good).is_ok(), "{good:?}");
        }
        for bad in [
            "",
            "#12",
            "red; } body { display: none",
            "url(x)",
            "rgb(1,2,3);x",
            "#zzz",
        ] {
            assert!(parse_css_color(bad).is_err(), "{bad:?}");
        }
        assert!(parse_portal_title("Acme Webhooks").is_ok());
        assert!(parse_portal_title("two\nlines").is_err());
    }

    #[test]
    fn portal_frame_ancestors_are_none_unless_told_and_cannot_break_the_header() {
        assert_eq!(Config::defaults().portal_frame_ancestors, "'none'");
        assert!(parse_frame_ancestors("https://app.example.com 'self'").is_ok());
        for bad in [
            "",
            "https://a.example; script-src *",
            "'none' https://a.example",
            "a,b",
        ] {
            assert!(parse_frame_ancestors(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn refuses_an_open_address_without_tokens() {
        let cli = Cli::parse_from(["hookrelay", "--listen", "0.0.0.0:8080"]);
        let err = Config::from_settings(cli.settings).unwrap_err();
        assert!(matches!(err, ConfigError::OpenWithoutTokens(_)));
    }

    #[test]
    fn refuses_a_lease_that_a_send_can_outlast() {
        let cli = Cli::parse_from(["hookrelay", "--lease", "2s", "--delivery-timeout", "6s"]);
        let err = Config::from_settings(cli.settings).unwrap_err();
        assert!(matches!(err, ConfigError::ShortLease { .. }), "{err}");
        let line = err.to_string();
        assert!(!line.contains('\n'), "{line}");
        for shown in ["LEASE is 2s", "TIMEOUT 6s", "at least 8s"] {
            assert!(line.contains(shown), "{shown:?} in {line}");
        }

        let cli = Cli::parse_from(["hookrelay", "--lease", "8s", "--delivery-timeout", "6s"]);
        let config = Config::from_settings(cli.settings).expect("the minimum lease is enough");
        let mut short = config.clone();
        short.lease = Duration::from_millis(7999);
        assert!(matches!(
            short.validate(),
            Err(ConfigError::ShortLease { .. })
        ));
        // Unset, the lease follows the timeout.
        let cli = Cli::parse_from(["hookrelay", "--delivery-timeout", "60s"]);
        assert_eq!(
            Config::from_settings(cli.settings).unwrap().lease,
            Duration::from_secs(90)
        );
    }
}
