//! OpenTelemetry traces: a span for each ingest (`POST /events`), each claim
//! and each attempt, exported over OTLP/HTTP when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
//!
//! Off, the default, costs nothing: no layer is installed, [`on`] stays false,
//! and every helper here answers `Span::none()` (whose enter and exit do
//! nothing) before building anything. The trace context an event carries is
//! passed on to its receivers either way (`domain::TraceContext`): that costs
//! a few string operations, and only for events that carry one.
//!
//! On, the exporter is process-wide, as the `tracing` subscriber it hangs
//! from is: `main` installs it once (`telemetry::init_exporting`) and flushes
//! it on the way out ([`Exporter::shutdown`]). Our spans have their own
//! target ([`TARGET`]); the exporting layer sees nothing else, so no log line
//! becomes a span event, and the log layer does not see our spans.
//!
//! What a span carries is chosen here, in one place: ids, the tenant, the
//! event type, attempt numbers, status codes and the receiver's host. Never
//! a payload, a URL (its query string may hold a credential), a header, or
//! a secret.

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, TracerProvider as _,
};
use opentelemetry::Context;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use opentelemetry_sdk::Resource;
use tracing::field::Empty;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::delivery::Attempted;
use crate::domain::{random_span_id, TraceContext};
use crate::queue::Claimed;

/// The `tracing` target of every span made here, and of nothing else.
pub const TARGET: &str = "hookrelay::otel";

/// How long one export may take before it is given up.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

static ON: AtomicBool = AtomicBool::new(false);

/// Spans are being exported by this process.
pub fn on() -> bool {
    ON.load(Ordering::Relaxed)
}

#[derive(Debug, thiserror::Error)]
pub enum OtelError {
    #[error("cannot set up the OTLP exporter: {0}")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
}

/// The running exporter; dropping it without [`Exporter::shutdown`] loses
/// the spans not yet sent.
pub struct Exporter {
    provider: SdkTracerProvider,
}

impl Exporter {
    /// Builds the exporter to `traces_url` (already `…/v1/traces`), batching
    /// spans on the SDK's own thread: an export never runs on the runtime
    /// that serves requests and sends deliveries. Must be called outside an
    /// async runtime (its blocking HTTP client runs its own).
    pub fn start(
        traces_url: &url::Url,
        service_name: &str,
    ) -> Result<(Exporter, SdkTracer), OtelError> {
        use opentelemetry_otlp::{Protocol, WithExportConfig};
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(traces_url.as_str())
            .with_timeout(EXPORT_TIMEOUT)
            .build()?;
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(
                Resource::builder()
                    .with_service_name(service_name.to_owned())
                    .build(),
            )
            .build();
        let tracer = provider.tracer("hookrelay");
        Ok((Exporter { provider }, tracer))
    }

    /// Marks spans as exported from now on: called once the layer is installed.
    pub(crate) fn announce(&self) {
        ON.store(true, Ordering::Relaxed);
    }

    /// Sends what is still batched, then stops. Blocking: call it after the
    /// runtime has finished.
    pub fn shutdown(self) {
        ON.store(false, Ordering::Relaxed);
        if let Err(e) = self.provider.shutdown() {
            eprintln!("hookrelay: could not flush the last spans: {e}");
        }
    }
}

/// `POST /events`: a child of the caller's context, if it sent one.
pub fn ingest_span(caller: Option<&TraceContext>) -> Span {
    if !on() {
        return Span::none();
    }
    let span = tracing::info_span!(
        target: TARGET,
        "hookrelay.ingest",
        otel.kind = "server",
        http.request.method = "POST",
        http.route = "/events",
        hookrelay.tenant = Empty,
        hookrelay.event_type = Empty,
        hookrelay.event_id = Empty,
        hookrelay.deliveries = Empty,
        http.response.status_code = Empty,
        otel.status_code = Empty,
    );
    if let Some(caller) = caller {
        let _ = span.set_parent(remote(caller));
    }
    span
}

/// What the ingest is about, once the request is parsed.
pub fn ingesting(span: &Span, tenant: &str, event_type: &str) {
    if span.is_none() {
        return;
    }
    span.record("hookrelay.tenant", tenant);
    span.record("hookrelay.event_type", event_type);
}

/// The event stored, and how many deliveries it fanned out to.
pub fn ingested(span: &Span, event_id: uuid::Uuid, deliveries: i64) {
    if span.is_none() {
        return;
    }
    span.record("hookrelay.event_id", tracing::field::display(event_id));
    span.record("hookrelay.deliveries", deliveries);
}

/// The status the API answered.
pub fn answered(span: &Span, status: u16) {
    if span.is_none() {
        return;
    }
    span.record("http.response.status_code", i64::from(status));
    if status >= 500 {
        span.record("otel.status_code", "error");
    }
}

/// The context the event keeps when spans are exported: the ingest span's,
/// so that its attempts are the ingest's children, in the caller's trace or
/// (without one) in a trace the ingest began. `tracestate` stays as given.
pub fn ingest_context(span: &Span, caller: Option<&TraceContext>) -> Option<TraceContext> {
    if span.is_none() {
        return caller.cloned();
    }
    let cx = span.context();
    let sc = cx.span().span_context().clone();
    if !sc.is_valid() {
        return caller.cloned();
    }
    TraceContext::from_ids(
        &sc.trace_id().to_string(),
        &sc.span_id().to_string(),
        sc.trace_flags().to_u8(),
        caller.and_then(|c| c.tracestate().map(str::to_owned)),
    )
}

/// One claim transaction: a root of its own (it takes deliveries of many
/// traces), linked to the trace of each event it took.
pub fn claim_span() -> Span {
    if !on() {
        return Span::none();
    }
    tracing::info_span!(
        target: TARGET,
        "hookrelay.claim",
        hookrelay.claimed = Empty,
    )
}

/// Records what a claim took, and links its span to each event's trace.
pub fn claimed(span: &Span, deliveries: &[Claimed]) {
    if span.is_none() {
        return;
    }
    span.record("hookrelay.claimed", deliveries.len() as i64);
    for d in deliveries {
        if let Some(trace) = &d.trace {
            span.add_link(span_context(trace));
        }
    }
}

/// One attempt to `url`: a child of the context its event keeps. Of the
/// URL, only the host is kept.
pub fn attempt_span(d: &Claimed, url: &str) -> Span {
    if !on() {
        return Span::none();
    }
    let url = url::Url::parse(url).ok();
    let host = url.as_ref().and_then(url::Url::host_str);
    let span = tracing::info_span!(
        target: TARGET,
        "hookrelay.attempt",
        otel.kind = "client",
        http.request.method = "POST",
        server.address = host.unwrap_or_default(),
        hookrelay.webhook_id = %d.webhook_id,
        hookrelay.tenant = %d.tenant,
        hookrelay.delivery_id = %d.id,
        hookrelay.event_type = %d.event_type,
        hookrelay.attempt = d.attempt,
        http.response.status_code = Empty,
        error.type = Empty,
        otel.status_code = Empty,
    );
    if let Some(trace) = &d.trace {
        let _ = span.set_parent(remote(trace));
    }
    span
}

/// The attempt's answer: its status code, or the kind of failure.
pub fn attempted(span: &Span, a: &Attempted) {
    if span.is_none() {
        return;
    }
    match &a.result {
        Ok(answer) => {
            span.record("http.response.status_code", i64::from(answer.status));
            if !(200..300).contains(&answer.status) {
                span.record("otel.status_code", "error");
            }
        }
        Err(f) => {
            span.record("error.type", f.kind());
            span.record("otel.status_code", "error");
        }
    }
}

/// The span id a receiver sees as its parent: the current (attempt) span's
/// when spans are exported, so the receiver's trace hangs from it; else a
/// new one, as an intermediary that records nothing must make.
pub fn outgoing_span_id() -> String {
    if on() {
        let cx = Span::current().context();
        let sc = cx.span().span_context().clone();
        if sc.is_valid() {
            return sc.span_id().to_string();
        }
    }
    random_span_id()
}

fn span_context(tc: &TraceContext) -> SpanContext {
    SpanContext::new(
        TraceId::from_hex(tc.trace_id()).unwrap_or(TraceId::INVALID),
        SpanId::from_hex(tc.parent_id()).unwrap_or(SpanId::INVALID),
        TraceFlags::new(tc.flags()),
        true,
        tc.tracestate()
            .and_then(|s| TraceState::from_str(s).ok())
            .unwrap_or_default(),
    )
}

fn remote(tc: &TraceContext) -> Context {
    Context::new().with_remote_span_context(span_context(tc))
}
