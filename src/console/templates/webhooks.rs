//! The webhooks, newest first, each with its health.

use maud::{html, Markup};

use super::webhook_form::{fields, WebhookFields};
use super::{csrf, layout, notice, pager, Nav};
use crate::console::session::Viewer;
use crate::store::event_types::EventTypeEntry;
use crate::store::stats::Health;
use crate::store::webhooks::Webhook;

pub struct WebhooksPage<'a> {
    pub viewer: &'a Viewer,
    pub rows: Vec<(&'a Webhook, Health)>,
    /// The tenant filter, as given.
    pub tenant: String,
    pub notice: Option<String>,
    pub next: Option<String>,
}

/// Success rate, p95 and the run of failures, in a few words.
pub fn health(h: &Health) -> Markup {
    html! {
        @match h.success_rate() {
            Some(r) => { span title={ "of the last " (h.recent) " deliveries in the past hour" } { (format!("{:.0}%", r * 100.0)) " ok" } }
            None => { span.muted { "no finished deliveries this hour" } }
        }
        @if let Some(p95) = h.p95_ms { span.muted { " · p95 " (p95) " ms" } }
        @if h.failing.attempts > 0 {
            div.small {
                span.badge.failed { (h.failing.attempts) @if h.failing.attempts >= 10 { "+" } " failed in a row" }
                @if h.failing.paused { " " span.badge.paused { "paused" } }
            }
        }
    }
}

pub fn page(p: &WebhooksPage) -> Markup {
    let v = p.viewer;
    layout(
        v,
        "Webhooks",
        Nav::Webhooks,
        html! {
            div.heading {
                h1 { "Webhooks" }
                a.button #new-webhook href=(v.href("/webhooks/new")) { "New webhook" }
            }
            (notice(p.notice.as_deref(), false))
            (super::tenant_filter(v, "/webhooks", &p.tenant))
            div.panel {
                @if p.rows.is_empty() {
                    p.muted { "No webhooks yet. " a href=(v.href("/webhooks/new")) { "Add one" } ", or register one with POST /webhooks." }
                } @else {
                    div.table-scroll {
                        table {
                            thead { tr {
                                th { "URL" } @if super::many_tenants(v) { th { "Tenant" } } th { "Event types" } th { "State" } th { "Health (last hour)" }
                            } }
                            tbody {
                                @for (w, h) in &p.rows {
                                    tr {
                                        td data-label="URL" {
                                            a.url href=(v.href(&format!("/webhooks/{}", w.id))) { (w.url) }
                                            @if let Some(d) = &w.description { div.small.muted.wrap { (d) } }
                                        }
                                        @if super::many_tenants(v) { td.mono data-label="Tenant" { (super::tenant_cell(v, "/webhooks", &w.tenant)) } }
                                        td.small.types data-label="Event types" { (w.event_types.join(", ")) }
                                        td data-label="State" {
                                            (super::enabled(w.enabled))
                                            @if let Some(r) = &w.disabled_reason { div.small.muted.wrap { (r) } }
                                        }
                                        td.small data-label="Health (last hour)" { (health(h)) }
                                    }
                                }
                            }
                        }
                    }
                }
                (pager(p.next.as_deref()))
            }
        },
    )
}

pub struct NewWebhookPage<'a> {
    pub viewer: &'a Viewer,
    pub form: &'a WebhookFields,
    pub catalog: &'a [EventTypeEntry],
    /// Why the form came back.
    pub error: Option<&'a str>,
}

/// `/webhooks/new`: where the operator (for any tenant) or a tenant (for
/// itself) adds an endpoint.
pub fn new_page(p: &NewWebhookPage) -> Markup {
    let v = p.viewer;
    layout(
        v,
        "New webhook",
        Nav::Webhooks,
        html! {
            p.small { a href=(v.href("/webhooks")) { "← Webhooks" } }
            h1 { "New webhook" }
            (notice(p.error, true))
            section.panel {
                form #new-webhook-form method="post" action=(v.href("/webhooks/new")) {
                    (csrf(v))
                    (fields(p.form, p.catalog, super::many_tenants(v)))
                    p.small.muted { "A signing secret is made for it and shown once, on the next page." }
                    button type="submit" { "Create webhook" }
                }
            }
        },
    )
}
