//! One delivery: its payload, the headers it was sent with, every attempt.

use maud::{html, Markup};

use super::{csrf, layout, maybe_when, notice, outcome, status, when, Nav};
use crate::console::session::Viewer;
use crate::store::deliveries::{Attempt, Delivery};

pub struct DeliveryPage<'a> {
    pub viewer: &'a Viewer,
    pub delivery: &'a Delivery,
    pub attempts: &'a [Attempt],
    pub event_type: Option<&'a str>,
    /// Pretty-printed JSON, as text.
    pub payload: Option<String>,
    pub webhook_url: Option<&'a str>,
    /// Each attempt's request headers, in attempt order.
    pub headers: Vec<Vec<(String, String)>>,
    pub notice: Option<String>,
}

pub fn page(p: &DeliveryPage) -> Markup {
    let v = p.viewer;
    let d = p.delivery;
    let finished = d.status == "success" || d.status == "failed";
    layout(
        v,
        &format!("Delivery {}", d.id),
        Nav::Deliveries,
        html! {
            p.small { a href=(v.href("/deliveries")) { "← Deliveries" } }
            h1 { "Delivery " span.mono { (d.id) } }
            (notice(p.notice.as_deref(), false))
            section.panel aria-labelledby="summary" {
                h2 #summary { "Summary" }
                dl.facts {
                    dt { "Status" } dd #delivery-status { (status(&d.status)) }
                    dt { "Webhook" }
                    dd { a.wrap href=(v.href(&format!("/webhooks/{}", d.webhook_id))) { (p.webhook_url.unwrap_or("(deleted)")) } }
                    dt { "Event type" } dd.mono { (p.event_type.unwrap_or("—")) }
                    dt { "Event id" } dd.mono { (d.event_id) }
                    dt { "Attempts" } dd { (d.attempts) }
                    dt { "Last answer" } dd { (outcome(d.last_status_code, d.last_error.as_deref())) }
                    dt { "Created" } dd { (when(d.created_at)) }
                    @if d.status == "pending" { dt { "Next attempt" } dd { (maybe_when(d.next_retry_at)) } }
                    @if let Some(reason) = d.waiting_for.as_deref() {
                        dt { "Waiting for" }
                        dd #delivery-waiting { (waiting(v, d, reason)) }
                    }
                    dt { "Completed" } dd { (maybe_when(d.completed_at)) }
                }
                @if finished {
                    form.actions method="post" action=(v.href(&format!("/deliveries/{}/retry", d.id))) {
                        (csrf(v))
                        button type="submit" { "Retry" }
                        span.small.muted { "Sends it again now, with a fresh retry budget." }
                    }
                }
            }
            section.panel aria-labelledby="attempts" {
                h2 #attempts { "Attempts" }
                @if p.attempts.is_empty() {
                    p.muted { "Not attempted yet." }
                }
                @for (i, a) in p.attempts.iter().enumerate() {
                    article.attempt {
                        h3 {
                            "Attempt " (a.attempt) " · " (when(a.started_at))
                        }
                        dl.facts {
                            dt { "Answer" } dd { (outcome(a.status_code, a.error.as_deref())) }
                            dt { "Duration" }
                            dd { @match a.duration_ms { Some(ms) => { (ms) " ms" } None => { span.muted { "lost (the worker stopped)" } } } }
                            dt { "Headers sent" }
                            dd.mono.small {
                                @for (name, value) in p.headers.get(i).map(Vec::as_slice).unwrap_or(&[]) {
                                    div.wrap { (name) ": " (value) }
                                }
                            }
                            dt { "Response body" }
                            dd {
                                @match a.response_body.as_deref().filter(|b| !b.is_empty()) {
                                    Some(body) => { pre.response { (body) } div.small.muted { "The first 4 KiB at most." } }
                                    None => { span.muted { "none" } }
                                }
                            }
                        }
                    }
                }
            }
            section.panel aria-labelledby="payload" {
                h2 #payload { "Payload, as sent" }
                @match &p.payload {
                    Some(json) => { pre #payload-body { (json) } }
                    None => { p.muted { "The event is no longer kept." } }
                }
            }
        },
    )
}

/// What holds a pending delivery, in words, with the delivery it is behind.
fn waiting(v: &Viewer, d: &Delivery, reason: &str) -> Markup {
    match (reason, d.behind) {
        ("ordering", Some(ahead)) => html! {
            "the delivery ahead of it under ordering key "
            code { (d.ordering_key.as_deref().unwrap_or("")) } ": "
            a.mono href=(v.href(&format!("/deliveries/{ahead}"))) { (ahead) }
        },
        ("ordering", None) => html! { "the delivery ahead of it under its ordering key" },
        ("paused", _) => html! {
            "its webhook's circuit breaker, which paused it until " (maybe_when(d.paused_until))
        },
        ("retry", _) => html! { "its next attempt, scheduled after a failure" },
        ("rate_limit", _) => html! { "its webhook's rate limit" },
        ("concurrency", _) => {
            html! { "room under its webhook's max_in_flight or its tenant's cap" }
        }
        ("held", _) => html! { "its webhook, which is disabled, to be enabled again" },
        (other, _) => html! { (other) },
    }
}
