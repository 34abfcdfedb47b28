//! Dead letters by webhook, each group with "retry all".

use maud::{html, Markup};

use super::{csrf, layout, notice, outcome, pager, when, Nav};
use crate::console::session::Viewer;
use crate::store::dead_letters::{DeadLetters, COUNTED_UP_TO};

pub struct DeadLettersPage<'a> {
    pub viewer: &'a Viewer,
    pub groups: &'a [DeadLetters],
    pub next: Option<String>,
    pub notice: Option<String>,
    /// The tenant filter, as given.
    pub tenant: String,
}

pub fn page(p: &DeadLettersPage) -> Markup {
    let v = p.viewer;
    layout(
        v,
        "Dead letters",
        Nav::DeadLetters,
        html! {
            h1 { "Dead letters" }
            (notice(p.notice.as_deref(), false))
            p.muted { "Deliveries whose retry budget ran out, by webhook. Retrying sends them again with a fresh budget." }
            (super::tenant_filter(v, "/dead-letters", &p.tenant))
            div.panel {
                @if p.groups.is_empty() {
                    p.muted { "No dead letters." }
                } @else {
                    div.table-scroll {
                        table {
                            thead { tr {
                                th { "Webhook" } @if super::many_tenants(v) { th { "Tenant" } } th.num { "Failed" } th { "Newest" } th { "Last answer" } th { span.skip { "Actions" } }
                            } }
                            tbody {
                                @for g in p.groups {
                                    tr {
                                        td data-label="Webhook" {
                                            a.url href=(v.href(&format!("/webhooks/{}", g.webhook_id))) { (g.url) }
                                            @if !g.enabled { " " (super::enabled(false)) }
                                        }
                                        @if super::many_tenants(v) { td.mono data-label="Tenant" { (super::tenant_cell(v, "/dead-letters", &g.tenant)) } }
                                        td.num data-label="Failed" {
                                            a href=(v.href(&format!("/deliveries?status=failed&webhook_id={}", g.webhook_id))) {
                                                (g.failed) @if g.failed >= COUNTED_UP_TO { "+" }
                                            }
                                        }
                                        td data-label="Newest" { a href=(v.href(&format!("/deliveries/{}", g.newest_id))) { (when(g.newest_at)) } }
                                        td data-label="Last answer" { (outcome(g.last_status_code, g.last_error.as_deref())) }
                                        td.actions-cell {
                                            form.inline method="post" action=(v.href(&format!("/webhooks/{}/retry-failed", g.webhook_id))) {
                                                (csrf(v))
                                                input type="hidden" name="back" value="dead-letters";
                                                button.secondary type="submit" { "Retry all" }
                                            }
                                        }
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
