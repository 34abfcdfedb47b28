//! `hookrelay healthcheck`: the container's HEALTHCHECK, with no curl and no shell
//! in the image.
//!
//! It reads the same settings as `serve` and asks `/healthz` where `serve`
//! listens, so a container told to listen somewhere other than the image's
//! default is checked where it really listens (a fixed `curl :8080` reported
//! such containers unhealthy while they served). An unspecified listen address
//! (`0.0.0.0`, `::`) accepts on every interface, so the probe goes to loopback,
//! which such a listener serves and which needs no name resolution.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// Under the image's `HEALTHCHECK --timeout` (3s), so the probe reports its own
/// reason instead of being killed without one.
pub const TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum HealthcheckError {
    #[error("cannot build the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    #[error("{url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("{url} answered {status}")]
    Status {
        url: String,
        status: reqwest::StatusCode,
    },
}

/// Where a process listening on `listen` answers on this host.
pub fn probe_address(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}

/// `Ok` when `GET /healthz` at `listen` answers 200 within `timeout`.
pub async fn check(listen: SocketAddr, timeout: Duration) -> Result<(), HealthcheckError> {
    let url = format!("http://{}/healthz", probe_address(listen));
    // No proxy: an HTTP_PROXY meant for the receivers must not carry a loopback probe.
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .build()
        .map_err(HealthcheckError::Client)?;
    let response = client
        .get(&url)
        .send()
        .await
        .map_err(|e| HealthcheckError::Unreachable {
            url: url.clone(),
            reason: innermost(&e),
        })?;
    match response.status() {
        reqwest::StatusCode::OK => Ok(()),
        status => Err(HealthcheckError::Status { url, status }),
    }
}

/// reqwest's own message only repeats the URL; the cause at the bottom of the
/// chain ("Connection refused", "operation timed out") is the one worth a line.
fn innermost(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "no answer within the timeout".to_owned();
    }
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unspecified_listen_address_is_probed_on_loopback() {
        let probe = |s: &str| probe_address(s.parse().unwrap()).to_string();
        assert_eq!(probe("0.0.0.0:8080"), "127.0.0.1:8080");
        assert_eq!(probe("[::]:9000"), "[::1]:9000");
        assert_eq!(probe("127.0.0.1:18080"), "127.0.0.1:18080");
        assert_eq!(probe("10.1.2.3:80"), "10.1.2.3:80");
    }
}
