//! The operator's tenants, newest first, each with the way to its webhooks
//! and deliveries.

use maud::{html, Markup};

use chrono::{DateTime, Utc};

use super::{csrf, layout, pager, when, Nav};
use crate::console::session::Viewer;
use crate::store::tenants::Tenant;

pub struct TenantsPage<'a> {
    pub viewer: &'a Viewer,
    pub tenants: &'a [Tenant],
    pub next: Option<String>,
    /// A portal link just made: shown this once.
    pub link: Option<PortalLink>,
}

pub struct PortalLink {
    pub tenant: String,
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

pub fn page(p: &TenantsPage) -> Markup {
    let v = p.viewer;
    layout(
        v,
        "Tenants",
        Nav::Tenants,
        html! {
            h1 { "Tenants" }
            p.muted { "Each tenant sees its own webhooks and deliveries in its portal. \"Portal link\" makes a link that signs its holder in as the tenant." }
            @if let Some(l) = &p.link {
                section.panel #portal-link aria-labelledby="portal-link-title" role="status" {
                    h2 #portal-link-title { "Portal link for " span.mono { (l.tenant) } }
                    p { "Shown this once: send it to the tenant. It works until " (when(l.expires_at)) "; revoking the tenant's tokens (DELETE /tenants/{key}/tokens) ends it sooner." }
                    pre.mono #portal-link-url { (l.url) }
                }
            }
            div.panel {
                div.table-scroll {
                    table {
                        thead { tr { th { "Key" } th { "Name" } th { "Created" } th { "Its" } th { span.skip { "Actions" } } } }
                        tbody {
                            @for t in p.tenants {
                                tr {
                                    td.mono.wrap data-label="Key" { (t.key) }
                                    td.wrap data-label="Name" { (t.name.as_deref().unwrap_or("—")) }
                                    td data-label="Created" { (when(t.created_at)) }
                                    td data-label="Its" {
                                        a href=(super::super::pages::tenant_link(v, "/webhooks", &t.key)) { "webhooks" }
                                        " · "
                                        a href=(super::super::pages::tenant_link(v, "/deliveries", &t.key)) { "deliveries" }
                                        " · "
                                        a href=(super::super::pages::tenant_link(v, "/dead-letters", &t.key)) { "dead letters" }
                                    }
                                    td.actions-cell {
                                        @if t.key != crate::domain::DEFAULT_TENANT {
                                            form.inline method="post" action=(v.href(&format!("/tenants/{}/portal", t.key))) {
                                                (csrf(v))
                                                button.secondary type="submit" { "Portal link" }
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
