//! W3C trace context and OpenTelemetry: an event's `traceparent` reaches its
//! receivers as a child, with tracing on or off; with
//! `OTEL_EXPORTER_OTLP_ENDPOINT` set, one trace runs from the ingest to the
//! attempt whose span the receiver's `traceparent` names.
//!
//! The exporter hangs from the process's one `tracing` subscriber, so the
//! test that exports runs hookrelay as a child process, with its own.

use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::{json, Value};

use crate::helpers::{fresh_database, spawn_app, Process, Receiver, Reply};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN: &str = "00f067aa0ba902b7";

/// An OTLP/HTTP collector on 127.0.0.1: a receiver of the harness that keeps
/// every body posted (to `/v1/traces`) and answers an empty
/// ExportTraceServiceResponse, which accepts them all.
struct Collector {
    endpoint: String,
    receiver: Receiver,
}

impl Collector {
    async fn start() -> Collector {
        let receiver = Receiver::start(|_| {
            Reply::status(200).header("content-type", "application/x-protobuf")
        })
        .await;
        let endpoint = receiver
            .url
            .strip_suffix("/hook")
            .expect("the harness's receivers listen at /hook")
            .to_owned();
        Collector { endpoint, receiver }
    }

    fn bodies(&self) -> Vec<Vec<u8>> {
        self.receiver
            .received()
            .into_iter()
            .map(|r| r.body)
            .collect()
    }

    fn spans(&self) -> Vec<Span> {
        self.bodies()
            .iter()
            .map(|b| ExportTraceServiceRequest::decode(b.as_slice()).expect("OTLP protobuf"))
            .flat_map(|r| r.resource_spans)
            .flat_map(|r| r.scope_spans)
            .flat_map(|s| s.spans)
            .collect()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn attribute(span: &Span, key: &str) -> Option<AnyValue> {
    span.attributes
        .iter()
        .find(|a| a.key == key)
        .and_then(|a| a.value.clone())
        .and_then(|v| v.value)
}

fn text(span: &Span, key: &str) -> String {
    match attribute(span, key) {
        Some(AnyValue::StringValue(s)) => s,
        other => panic!("{}: {key} is {other:?}, not a string", span.name),
    }
}

fn int(span: &Span, key: &str) -> i64 {
    match attribute(span, key) {
        Some(AnyValue::IntValue(n)) => n,
        other => panic!("{}: {key} is {other:?}, not an integer", span.name),
    }
}

fn named<'a>(spans: &'a [Span], name: &str) -> Vec<&'a Span> {
    spans.iter().filter(|s| s.name == name).collect()
}

/// The parts of a `traceparent`: version, trace id, parent id, flags.
fn parts(traceparent: &str) -> Vec<String> {
    let parts: Vec<String> = traceparent.split('-').map(str::to_owned).collect();
    assert_eq!(parts.len(), 4, "{traceparent:?}");
    parts
}

#[tokio::test]
async fn one_trace_runs_from_the_ingest_to_the_receivers_traceparent() {
    let collector = Collector::start().await;
    let receiver = Receiver::ok().await;
    let database = fresh_database().await;
    // The batch exporter's own delay (5 s) is kept: what arrives by the time
    // the process has exited was flushed at shutdown.
    let mut hookrelay = Process::start(
        &database,
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint.as_str())],
    )
    .await;
    let http = reqwest::Client::new();
    let webhook: Value = http
        .post(format!("{}/webhooks", hookrelay.address))
        .json(&json!({"url": format!("{}?token=query-secret-7781", receiver.url), "event_types": ["order.created"]}))
        .send()
        .await
        .expect("create a webhook")
        .json()
        .await
        .expect("json");
    let webhook_id = webhook["id"].as_str().expect("id").to_owned();
    let secret = webhook["secret"].as_str().expect("secret").to_owned();

    let answer = http
        .post(format!("{}/events", hookrelay.address))
        .header("traceparent", format!("00-{TRACE_ID}-{CLIENT_SPAN}-01"))
        .header("tracestate", "vendor=opaque-value")
        .json(&json!({"type": "order.created", "payload": {"card": "payload-marker-4242"}}))
        .send()
        .await
        .expect("emit");
    assert_eq!(answer.status(), 201);
    let event: Value = answer.json().await.expect("json");

    let got = receiver.wait_for(1, Duration::from_secs(15)).await;
    let sent = parts(got[0].header("traceparent"));
    assert_eq!(sent[0], "00");
    assert_eq!(sent[1], TRACE_ID, "the receiver is in the event's trace");
    assert_ne!(
        sent[2], CLIENT_SPAN,
        "its parent is hookrelay's, not the client's"
    );
    assert_eq!(sent[3], "01", "sampled, as the client said");
    assert_eq!(got[0].header("tracestate"), "vendor=opaque-value");

    hookrelay.signal("TERM");
    let exited = hookrelay.wait_exit(Duration::from_secs(30)).await;
    assert!(
        exited.is_some_and(|s| s.success()),
        "hookrelay did not exit 0: {exited:?}\n{}",
        hookrelay.log_text()
    );
    let spans = collector.spans();
    let in_trace: Vec<Span> = spans
        .into_iter()
        .filter(|s| hex(&s.trace_id) == TRACE_ID)
        .collect();

    let ingest = named(&in_trace, "hookrelay.ingest");
    assert_eq!(
        ingest.len(),
        1,
        "one ingest span in the trace: {in_trace:#?}"
    );
    let ingest = ingest[0];
    assert_eq!(
        hex(&ingest.parent_span_id),
        CLIENT_SPAN,
        "a child of the client's span"
    );
    assert_eq!(text(ingest, "hookrelay.tenant"), "default");
    assert_eq!(
        text(ingest, "hookrelay.event_id"),
        event["id"].as_str().expect("id")
    );
    assert_eq!(int(ingest, "http.response.status_code"), 201);

    let attempt = named(&in_trace, "hookrelay.attempt");
    assert_eq!(
        attempt.len(),
        1,
        "one attempt span in the trace: {in_trace:#?}"
    );
    let attempt = attempt[0];
    assert_eq!(
        hex(&attempt.parent_span_id),
        hex(&ingest.span_id),
        "the attempt is the ingest's child"
    );
    assert_eq!(
        hex(&attempt.span_id),
        sent[2],
        "the receiver's traceparent names the attempt's span"
    );
    assert_eq!(text(attempt, "hookrelay.webhook_id"), webhook_id);
    assert_eq!(text(attempt, "hookrelay.tenant"), "default");
    assert_eq!(int(attempt, "hookrelay.attempt"), 1);
    assert_eq!(int(attempt, "http.response.status_code"), 200);
    assert_eq!(text(attempt, "server.address"), "127.0.0.1");

    let claims = collector.spans();
    let claims = named(&claims, "hookrelay.claim");
    assert!(
        claims
            .iter()
            .any(|c| c.links.iter().any(|l| hex(&l.trace_id) == TRACE_ID)),
        "a claim span links to the event's trace: {claims:#?}"
    );

    let exported = collector.bodies().concat();
    let exported = String::from_utf8_lossy(&exported);
    for never in ["payload-marker-4242", "query-secret-7781", secret.as_str()] {
        assert!(!exported.contains(never), "{never:?} was exported");
    }
}

#[tokio::test]
async fn an_events_trace_context_reaches_receivers_with_tracing_off() {
    let app = spawn_app().await;
    let receiver = Receiver::ok().await;
    app.create_webhook(&receiver.url, &["*"]).await;
    let emit = |traceparent: Option<&str>, n: u32| {
        let mut request = app
            .http
            .post(format!("{}/events", app.address))
            .header("tracestate", "vendor=opaque-value")
            .json(&json!({"type": "order.created", "payload": {"n": n}}));
        if let Some(t) = traceparent {
            request = request.header("traceparent", t);
        }
        request.send()
    };
    // Not sampled: the flag is kept as the client set it.
    let traced = format!("00-{TRACE_ID}-{CLIENT_SPAN}-00");
    assert_eq!(emit(Some(&traced), 1).await.expect("emit").status(), 201);
    assert_eq!(emit(None, 2).await.expect("emit").status(), 201);
    let malformed = format!("00-{TRACE_ID}-{CLIENT_SPAN}");
    assert_eq!(
        emit(Some(&malformed), 3).await.expect("emit").status(),
        201,
        "a malformed traceparent is ignored, not refused"
    );

    let got = receiver.wait_for(3, Duration::from_secs(10)).await;
    let of = |n: u32| {
        got.iter()
            .find(|r| r.json()["n"] == n)
            .expect("delivered")
            .clone()
    };
    let sent = parts(of(1).header("traceparent"));
    assert_eq!(sent[1], TRACE_ID);
    assert_eq!(sent[2].len(), 16);
    assert_ne!(sent[2], CLIENT_SPAN, "a new span id");
    assert_eq!(sent[3], "00");
    assert_eq!(of(1).header("tracestate"), "vendor=opaque-value");
    for n in [2, 3] {
        assert!(of(n).headers.get("traceparent").is_none(), "event {n}");
        assert!(of(n).headers.get("tracestate").is_none(), "event {n}");
    }
}
