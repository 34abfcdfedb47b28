//! The operator's tenants, newest first, each with the way to its webhooks
//! and deliveries.

use maud::{html, Markup};

use super::{layout, pager, when, Nav};
use crate::console::session::Viewer;
use crate::store::tenants::Tenant;

pub struct TenantsPage<'a> {
    pub viewer: &'a Viewer,
    pub tenants: &'a [Tenant],
    pub next: Option<String>,
}

pub fn page(p: &TenantsPage) -> Markup {
    let v = p.viewer;
    layout(
        v,
        "Tenants",
        Nav::Tenants,
        html! {
            h1 { "Tenants" }
            p.muted { "Each tenant sees its own webhooks and deliveries in its portal (POST /tenants/{key}/portal makes a link)." }
            div.panel {
                div.table-scroll {
                    table {
                        thead { tr { th { "Key" } th { "Name" } th { "Created" } th { "Its" } } }
                        tbody {
                            @for t in p.tenants {
                                tr {
                                    td.mono.wrap { (t.key) }
                                    td.wrap { (t.name.as_deref().unwrap_or("—")) }
                                    td { (when(t.created_at)) }
                                    td {
                                        a href=(super::super::pages::tenant_link(v, "/webhooks", &t.key)) { "webhooks" }
                                        " · "
                                        a href=(super::super::pages::tenant_link(v, "/deliveries", &t.key)) { "deliveries" }
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
