//! One HTTP attempt: build the signed request, send it, read a bounded answer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::guard::{self, GuardedResolver, Refused};
use super::sign;
use super::targets::Target;
use crate::domain::{Secret, WebhookUrl};
use crate::queue::Claimed;

/// How much of a response body is kept in the attempt log.
pub const RESPONSE_BODY_LIMIT: usize = 4096;

const USER_AGENT: &str = concat!("hookrelay/", env!("CARGO_PKG_VERSION"));

/// The headers an attempt was sent with, as a person reading the attempt log
/// sees them: hookrelay's own (beside `request` below, so the two change
/// together), then the webhook's custom ones as the attempt recorded them.
/// Signatures are not kept, so they are described rather than shown, and the
/// timestamp is the attempt's start (it is signed within the same moment).
pub fn headers_sent(
    delivery_id: uuid::Uuid,
    event_type: &str,
    started_at: DateTime<Utc>,
    custom: Option<&serde_json::Value>,
) -> Vec<(String, String)> {
    let id = delivery_id.to_string();
    let mut headers: Vec<(String, String)> = [
        ("Content-Type", "application/json".to_owned()),
        ("User-Agent", USER_AGENT.to_owned()),
        ("X-Delivery-ID", id.clone()),
        ("X-Webhook-Event", event_type.to_owned()),
        (
            "X-Webhook-Signature",
            "sha256=… (HMAC of the body; not kept)".to_owned(),
        ),
        ("webhook-id", id),
        ("webhook-timestamp", started_at.timestamp().to_string()),
        (
            "webhook-signature",
            "v1,… (Standard Webhooks signature; not kept)".to_owned(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    if let Some(map) = custom.and_then(|c| c.as_object()) {
        for (name, value) in map {
            headers.push((name.clone(), value.as_str().unwrap_or_default().to_owned()));
        }
    }
    headers
}

/// What the receiver answered.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<Duration>,
    /// The first 4 KiB of the body, lossily decoded.
    pub body: String,
}

/// Why no answer came.
#[derive(Debug, Clone)]
pub enum Failure {
    Timeout(Duration),
    Connect(String),
    Refused(String),
    Other(String),
}

impl Failure {
    pub fn message(&self) -> String {
        match self {
            Failure::Timeout(d) => format!(
                "timeout: no answer within {}",
                humantime::format_duration(*d)
            ),
            Failure::Connect(e) => format!("connection failed: {e}"),
            Failure::Refused(e) => e.clone(),
            Failure::Other(e) => e.clone(),
        }
    }

    /// The label used in logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Failure::Timeout(_) => "timeout",
            Failure::Connect(_) => "connect_error",
            Failure::Refused(_) => "refused_by_guard",
            Failure::Other(_) => "error",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Attempted {
    pub started_at: DateTime<Utc>,
    pub duration: Duration,
    pub result: Result<Answer, Failure>,
}

/// The shared HTTP client: keep-alive connections pooled per receiver, no redirects.
///
/// Proxies come from `HOOKRELAY_OUTBOUND_PROXY` alone, never from the
/// environment's `HTTP_PROXY` and friends: through a proxy, the guarded resolver
/// would see only the proxy's address and the proxy would reach any receiver.
/// An operator who names a proxy makes it the egress policy's enforcer, so the
/// resolver is not guarded then (it only ever resolves the proxy, which may well
/// live on a private address).
#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
    timeout: Duration,
    allow_private: bool,
}

impl Sender {
    pub fn new(
        timeout: Duration,
        allow_private: bool,
        proxy: Option<&url::Url>,
    ) -> Result<Sender, reqwest::Error> {
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(USER_AGENT)
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true);
        builder = match proxy {
            Some(proxy) => builder.proxy(reqwest::Proxy::all(proxy.as_str())?),
            None => builder.no_proxy(),
        };
        if !allow_private && proxy.is_none() {
            builder = builder.dns_resolver(Arc::new(GuardedResolver));
        }
        Ok(Sender {
            client: builder.build()?,
            timeout,
            allow_private,
        })
    }

    /// Sends one attempt of `d` to `target`, the webhook as it is now.
    pub async fn send(&self, d: &Claimed, target: &Target) -> Attempted {
        let started_at = Utc::now();
        let clock = Instant::now();
        let result = self.request(d, target).await;
        Attempted {
            started_at,
            duration: clock.elapsed(),
            result,
        }
    }

    async fn request(&self, d: &Claimed, target: &Target) -> Result<Answer, Failure> {
        let url = WebhookUrl::parse(&target.url)
            .map_err(|e| Failure::Other(format!("webhook URL {e}")))?;
        if !self.allow_private {
            if let Some(ip) = guard::literal_ip(&url) {
                if guard::is_forbidden(ip) {
                    return Err(Failure::Refused(
                        Refused(format!("{ip} is a private or reserved address")).to_string(),
                    ));
                }
            }
        }
        let secret = Secret::parse(&target.secret)
            .map_err(|_| Failure::Other("the webhook's secret is unreadable".into()))?;
        let previous = target.previous_secret().and_then(|s| Secret::parse(s).ok());
        let mut secrets = vec![&secret];
        secrets.extend(previous.as_ref());

        let id = d.id.to_string();
        let timestamp = Utc::now().timestamp();
        let body = d.payload.as_bytes();
        let mut request = self
            .client
            .post(url.as_str())
            .header("Content-Type", "application/json")
            .header("X-Delivery-ID", &id)
            .header("X-Webhook-Event", &d.event_type)
            .header("X-Webhook-Signature", sign::hex_signature(&secret, body))
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header(
                "webhook-signature",
                sign::standard_signature(&secrets, &id, timestamp, body),
            );
        // The event's trace goes on through the receiver: the same trace and
        // sampling decision, with this attempt as the parent. Unsigned, like
        // the custom headers, and absent for an event that keeps no context.
        // Not in the attempt log's headers (`headers_sent`), which are the
        // webhook's, the same for every event.
        if let Some(trace) = &d.trace {
            request = request.header("traceparent", trace.child(&crate::otel::outgoing_span_id()));
            if let Some(state) = trace.tracestate() {
                request = request.header("tracestate", state);
            }
        }
        // Unsigned, and never one of the names above: the API refuses those.
        for (name, value) in &target.headers {
            request = request.header(name.clone(), value.clone());
        }
        let response = request
            .body(d.payload.clone())
            .send()
            .await
            .map_err(|e| self.failure(e))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(super::outcome::parse_retry_after);
        let body = read_prefix(response).await;
        Ok(Answer {
            status,
            retry_after,
            body,
        })
    }

    fn failure(&self, e: reqwest::Error) -> Failure {
        if e.is_timeout() {
            return Failure::Timeout(self.timeout);
        }
        // The guard's refusal arrives wrapped in the connector's error chain.
        let mut source: Option<&dyn std::error::Error> = Some(&e);
        while let Some(s) = source {
            if let Some(refused) = s.downcast_ref::<Refused>() {
                return Failure::Refused(refused.to_string());
            }
            source = s.source();
        }
        let connect = e.is_connect();
        let chain = error_chain(&e.without_url());
        if connect {
            Failure::Connect(chain)
        } else {
            Failure::Other(chain)
        }
    }
}

/// Reads at most RESPONSE_BODY_LIMIT bytes, then drops the rest of the answer.
/// The status has already decided the attempt, so a body that breaks off (a
/// reset, a short read, the timeout) does not fail it: what was read is kept,
/// with a note of the error in place of the rest.
async fn read_prefix(mut response: reqwest::Response) -> String {
    let mut buf = Vec::new();
    let mut broken = None;
    while buf.len() < RESPONSE_BODY_LIMIT {
        match response.chunk().await {
            Ok(Some(chunk)) => buf.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(e) => {
                broken = Some(format!(
                    "[body read failed: {}]",
                    error_chain(&e.without_url())
                ));
                break;
            }
        }
    }
    // The note takes the end of the limit, and a space before it.
    let room = broken.as_ref().map_or(0, |n| n.len() + 1);
    buf.truncate(RESPONSE_BODY_LIMIT.saturating_sub(room));
    let mut text = String::from_utf8_lossy(&buf).into_owned();
    // Postgres text cannot hold NUL.
    text.retain(|c| c != '\0');
    if let Some(note) = broken {
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(&note);
    }
    text
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}
