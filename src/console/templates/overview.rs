//! The overview: the last hour's traffic, the queue, and what is failing.

use chrono::{DateTime, Utc};
use maud::{html, Markup};

use super::{age, layout, maybe_when, Nav};
use crate::console::session::Viewer;
use crate::store::stats::{FailingWebhook, Queue};

pub struct OverviewPage<'a> {
    pub viewer: &'a Viewer,
    pub chart: Markup,
    pub queue: &'a Queue,
    pub failing: &'a [FailingWebhook],
    pub now: DateTime<Utc>,
}

fn count(queue: &Queue, status: &str) -> i64 {
    queue
        .by_status
        .iter()
        .find(|(s, _)| s == status)
        .map_or(0, |(_, n)| *n as i64)
}

pub fn page(p: &OverviewPage) -> Markup {
    let v = p.viewer;
    layout(
        v,
        "Overview",
        Nav::Overview,
        html! {
            h1 { "Overview" }
            div.stats {
                div.stat { span.value { (p.queue.due_now as i64) } span.label { "due now" } }
                div.stat {
                    span.value { (age(p.queue.oldest_due_age_seconds)) }
                    span.label { "oldest due delivery has waited" }
                }
                div.stat { span.value { (count(p.queue, "pending")) } span.label { "pending (due later or held too)" } }
                div.stat { span.value { (count(p.queue, "processing")) } span.label { "being sent" } }
                div.stat {
                    span.value { a href=(v.href("/dead-letters")) { (count(p.queue, "failed")) } }
                    span.label { "dead letters" }
                }
            }
            section.panel aria-labelledby="traffic" {
                h2 #traffic { "Deliveries per minute, last hour" }
                (p.chart)
            }
            section.panel aria-labelledby="failing" {
                h2 #failing { "Failing most" }
                @if p.failing.is_empty() {
                    p.muted { "No webhook is failing right now." }
                } @else {
                    div.table-scroll {
                        table {
                            thead { tr {
                                th { "Webhook" } @if super::many_tenants(v) { th { "Tenant" } } th { "State" } th { "Failing since" }
                                th.num { "Failed attempts" } th { "First error" }
                            } }
                            tbody {
                                @for w in p.failing {
                                    tr {
                                        td data-label="Webhook" { a.url href=(v.href(&format!("/webhooks/{}", w.id))) { (w.url) } }
                                        @if super::many_tenants(v) { td.mono data-label="Tenant" { (super::tenant_cell(v, "/webhooks", &w.tenant)) } }
                                        td data-label="State" {
                                            (super::enabled(w.enabled))
                                            @if w.failing.paused { " " (super::status("paused")) }
                                            @if let Some(r) = &w.disabled_reason { div.small.muted.wrap { (r) } }
                                        }
                                        td data-label="Failing since" {
                                            (maybe_when(w.failing.since))
                                            @if let Some(since) = w.failing.since {
                                                div.small.muted { (age((p.now - since).num_seconds() as f64)) " ago" }
                                            }
                                        }
                                        td.num data-label="Failed attempts" { (w.failing.attempts) @if w.failing.attempts >= 10 { "+" } }
                                        td.small.wrap data-label="First error" { (w.failing.first_error.as_deref().unwrap_or("—")) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}
