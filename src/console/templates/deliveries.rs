//! Deliveries, newest first, filtered as `GET /deliveries` is.

use maud::{html, Markup};

use super::{layout, outcome, pager, status, when, Nav};
use crate::api::auth::Caller;
use crate::console::session::Viewer;
use crate::store::deliveries::Delivery;

/// A delivery with what a person needs to recognise it.
pub struct Row<'a> {
    pub delivery: &'a Delivery,
    pub event_type: Option<&'a str>,
    pub url: Option<&'a str>,
}

/// The filters as the form shows them: what was asked for, as typed.
#[derive(Default)]
pub struct Filters {
    pub status: String,
    pub event_type: String,
    pub webhook_id: String,
    pub created_after: String,
    pub created_before: String,
    pub tenant: String,
}

pub struct DeliveriesPage<'a> {
    pub viewer: &'a Viewer,
    pub filters: Filters,
    pub table: Markup,
}

pub fn table(v: &Viewer, rows: &[Row], next: Option<&str>, show_webhook: bool) -> Markup {
    html! {
        @if rows.is_empty() {
            p.muted { "No deliveries." }
        } @else {
            div.table-scroll {
                table {
                    thead { tr {
                        th { "Created" } @if super::many_tenants(v) { th { "Tenant" } } th { "Event type" }
                        @if show_webhook { th { "Webhook" } }
                        th { "Status" } th.num { "Attempts" } th { "Last answer" }
                    } }
                    tbody {
                        @for r in rows {
                            @let d = r.delivery;
                            tr {
                                td data-label="Created" { a href=(v.href(&format!("/deliveries/{}", d.id))) { (when(d.created_at)) } }
                                @if super::many_tenants(v) { td.mono data-label="Tenant" { (super::tenant_cell(v, "/deliveries", &d.tenant)) } }
                                td.mono.types data-label="Event type" { (r.event_type.unwrap_or("—")) }
                                @if show_webhook {
                                    td data-label="Webhook" { a.url.small href=(v.href(&format!("/webhooks/{}", d.webhook_id))) { (r.url.unwrap_or("(deleted)")) } }
                                }
                                td data-label="Status" { (status(&d.status)) }
                                td.num data-label="Attempts" { (d.attempts) }
                                td data-label="Last answer" { (outcome(d.last_status_code, d.last_error.as_deref())) }
                            }
                        }
                    }
                }
            }
        }
        (pager(next))
    }
}

pub fn page(p: &DeliveriesPage) -> Markup {
    let v = p.viewer;
    let f = &p.filters;
    layout(
        v,
        "Deliveries",
        Nav::Deliveries,
        html! {
            h1 { "Deliveries" }
            form.panel method="get" action=(v.href("/deliveries")) role="search" aria-label="Filter deliveries" {
                div.filters {
                    div.field {
                        label for="status" { "Status" }
                        select #status name="status" {
                            @for (value, label) in [("", "any"), ("pending", "pending"), ("processing", "processing"), ("success", "success"), ("failed", "failed")] {
                                option value=(value) selected[f.status == value] { (label) }
                            }
                        }
                    }
                    div.field {
                        label for="event_type" { "Event type" }
                        input #event_type type="text" name="event_type" value=(f.event_type);
                    }
                    div.field {
                        label for="webhook_id" { "Webhook id" }
                        input #webhook_id type="text" name="webhook_id" value=(f.webhook_id);
                    }
                    @if matches!(v.caller, Caller::Operator) {
                        div.field {
                            label for="tenant" { "Tenant" }
                            input #tenant type="text" name="tenant" value=(f.tenant);
                        }
                    }
                    div.field {
                        label for="created_after" { "Created from (UTC)" }
                        input #created_after type="datetime-local" name="created_after" value=(f.created_after);
                    }
                    div.field {
                        label for="created_before" { "Created before (UTC)" }
                        input #created_before type="datetime-local" name="created_before" value=(f.created_before);
                    }
                    div.field { button type="submit" { "Filter" } }
                }
            }
            div.panel { (p.table) }
        },
    )
}
