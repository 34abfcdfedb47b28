//! One webhook: what it is, how it is doing, what can be done to it, and its
//! recent deliveries.

use maud::{html, Markup};

use super::{csrf, layout, maybe_when, notice, when, Nav};
use crate::console::session::Viewer;
use crate::store::stats::Health;
use crate::store::webhooks::Webhook;

/// The edit form's values: the webhook's own, or what was just posted and refused.
pub struct EditForm {
    pub url: String,
    pub event_types: String,
    pub description: String,
    pub rate_limit: String,
}

impl EditForm {
    pub fn of(w: &Webhook) -> EditForm {
        EditForm {
            url: w.url.clone(),
            event_types: w.event_types.join(", "),
            description: w.description.clone().unwrap_or_default(),
            rate_limit: w.rate_limit.map(|r| r.to_string()).unwrap_or_default(),
        }
    }
}

pub struct WebhookPage<'a> {
    pub viewer: &'a Viewer,
    pub webhook: &'a Webhook,
    pub health: Health,
    pub deliveries: Markup,
    pub form: EditForm,
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
                    h2 { "Edit" }
                    form method="post" action=(at("")) {
                        (csrf(v))
                        div.field {
                            label for="url" { "URL" }
                            input #url type="url" name="url" value=(p.form.url) required maxlength="2048";
                        }
                        div.field {
                            label for="event_types" { "Event types " span.hint { "(comma-separated; * for all)" } }
                            input #event_types type="text" name="event_types" value=(p.form.event_types) required;
                        }
                        div.field {
                            label for="description" { "Description" }
                            input #description type="text" name="description" value=(p.form.description) maxlength="1024";
                        }
                        div.field {
                            label for="rate_limit" { "Rate limit " span.hint { "(attempts per second; empty for none)" } }
                            input #rate_limit type="number" name="rate_limit" min="1" value=(p.form.rate_limit);
                        }
                        button type="submit" { "Save" }
                    }
                }
            }
            section.panel aria-labelledby="recent" {
                h2 #recent { "Recent deliveries" }
                (p.deliveries)
            }
        },
    )
}
