//! One webhook: what it is, how it is doing, what can be done to it, and its
//! recent deliveries.

use maud::{html, Markup};

use super::webhook_form::{fields, WebhookFields};
use super::{csrf, layout, maybe_when, notice, when, Nav};
use crate::console::session::Viewer;
use crate::store::event_types::EventTypeEntry;
use crate::store::stats::Health;
use crate::store::webhooks::Webhook;

pub struct WebhookPage<'a> {
    pub viewer: &'a Viewer,
    pub webhook: &'a Webhook,
    pub health: Health,
    pub deliveries: Markup,
    /// The edit form's values: the webhook's own, or what was just posted and refused.
    pub form: WebhookFields,
    pub catalog: &'a [EventTypeEntry],
    /// The secret, when the viewer asked to see it (or just rotated it).
    pub secret: Option<String>,
    pub notice: Option<String>,
    pub error: Option<String>,
}

pub fn page(p: &WebhookPage) -> Markup {
    let v = p.viewer;
    let w = p.webhook;
    let at = |path: &str| v.href(&format!("/webhooks/{}{path}", w.id));
    layout(
        v,
        &w.url,
        Nav::Webhooks,
        html! {
            p.small { a href=(v.href("/webhooks")) { "← Webhooks" } }
            h1 { (w.url) }
            (notice(p.notice.as_deref(), false))
            (notice(p.error.as_deref(), true))
            div.columns {
                section.panel aria-labelledby="about" {
                    h2 #about { "About" }
                    dl.facts {
                        dt { "State" }
                        dd {
                            (super::enabled(w.enabled))
                            @if let Some(r) = &w.disabled_reason { div.small.wrap { (r) } }
                        }
                        dt { "Event types" } dd.mono { (w.event_types.join(", ")) }
                        dt { "Description" } dd { (w.description.as_deref().unwrap_or("—")) }
                        dt { "Rate limit" }
                        dd { @match w.rate_limit { Some(r) => { (r) " attempts/s" } None => { "none" } } }
                        dt { "Max in flight" }
                        dd { @match w.max_in_flight { Some(m) => { (m) " at once" } None => { "the default" } } }
                        dt { "Custom headers" }
                        dd.mono {
                            @match w.headers.as_object().filter(|h| !h.is_empty()) {
                                Some(h) => { @for (k, val) in h { div { (k) ": " (val.as_str().unwrap_or("")) } } }
                                None => { span.muted { "none" } }
                            }
                        }
                        dt { "Health" } dd { (super::webhooks::health(&p.health)) }
                        dt { "Failing since" } dd { (maybe_when(p.health.failing.since)) }
                        dt { "Created" } dd { (when(w.created_at)) }
                        dt { "Id" } dd.mono { (w.id) }
                    }
                    div.actions {
                        form.inline method="post" action=(at("/enabled")) {
                            (csrf(v))
                            @if w.enabled {
                                input type="hidden" name="enabled" value="false";
                                button.danger type="submit" { "Disable" }
                            } @else {
                                input type="hidden" name="enabled" value="true";
                                button type="submit" { "Enable" }
                            }
                        }
                        form.inline method="post" action=(at("/test")) {
                            (csrf(v))
                            button.secondary type="submit" { "Send a test event" }
                        }
                        form.inline method="post" action=(at("/retry-failed")) {
                            (csrf(v))
                            input type="hidden" name="back" value="webhook";
                            button.secondary type="submit" { "Retry all failed" }
                        }
                    }
                }
                section.panel aria-labelledby="secret" {
                    h2 #secret { "Signing secret" }
                    @if let Some(s) = &p.secret {
                        p { "Keep it out of logs and tickets." }
                        pre.mono #secret-value { (s) }
                    } @else {
                        p.muted { "Hidden. Receivers verify signatures with it." }
                    }
                    div.actions {
                        form.inline method="post" action=(at("/secret")) {
                            (csrf(v))
                            button.secondary type="submit" { "Reveal" }
                        }
                        form.inline method="post" action=(at("/rotate-secret")) {
                            (csrf(v))
                            button.danger type="submit" { "Rotate" }
                        }
                    }
                    p.small.muted { "After a rotation, deliveries are signed with both the new and the old secret for 24 hours." }
                }
            }
            section.panel aria-labelledby="edit" {
                h2 #edit { "Edit" }
                form #edit-form method="post" action=(at("")) {
                    (csrf(v))
                    (fields(&p.form, p.catalog, false))
                    button type="submit" { "Save" }
                }
                form.delete method="post" action=(at("/delete")) {
                    (csrf(v))
                    p.small.muted { "Deleting stops every delivery to it at once; its history goes with it." }
                    button.danger #delete type="submit" { "Delete this webhook" }
                }
            }
            section.panel aria-labelledby="recent" {
                h2 #recent { "Recent deliveries" }
                (p.deliveries)
            }
        },
    )
}
