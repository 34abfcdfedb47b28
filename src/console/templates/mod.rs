//! The console's templates: maud, compiled into the binary. Each page is a
//! struct holding exactly what its template may show, and a function that
//! renders it. maud escapes every `(value)`; nothing here uses `PreEscaped`,
//! so no stored string can become markup.

pub mod dead_letters;
pub mod deliveries;
pub mod delivery;
pub mod error;
pub mod event_types;
pub mod overview;
pub mod sign_in;
pub mod tenants;
pub mod webhook;
pub mod webhook_form;
pub mod webhooks;

use chrono::{DateTime, Utc};
use maud::{html, Markup, DOCTYPE};

use super::area::Area;
use super::assets;
use super::brand::Brand;
use super::session::Viewer;
use crate::api::auth::Caller;

/// The navigation entry a page belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Overview,
    Tenants,
    Webhooks,
    Deliveries,
    DeadLetters,
    EventTypes,
}

fn head(title: &str, brand: &Brand) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            meta name="referrer" content="same-origin";
            title { (title) " · " (brand.name()) }
            link rel="stylesheet" href=(assets::stylesheet());
            @if brand.accent { link rel="stylesheet" href=(super::brand::STYLESHEET); }
        }
    }
}

fn brand(area: Area, brand: &Brand, caller: Option<&Caller>) -> Markup {
    html! {
        a.brand href=(area.base()) {
            (brand.name())
            small {
                @match caller {
                    Some(Caller::Tenant(key)) => { "portal · " (key.as_str()) }
                    _ => { @if area == Area::Portal { "portal" } @else { "console" } }
                }
            }
        }
    }
}

/// A page of a signed-in viewer: the navigation, and `body` in `main`.
pub fn layout(viewer: &Viewer, title: &str, active: Nav, body: Markup) -> Markup {
    let mut entries = vec![(Nav::Overview, "Overview", viewer.href(""))];
    if viewer.caller == Caller::Operator {
        entries.push((Nav::Tenants, "Tenants", viewer.href("/tenants")));
    }
    entries.push((Nav::Webhooks, "Webhooks", viewer.href("/webhooks")));
    entries.push((Nav::Deliveries, "Deliveries", viewer.href("/deliveries")));
    entries.push((
        Nav::DeadLetters,
        "Dead letters",
        viewer.href("/dead-letters"),
    ));
    entries.push((Nav::EventTypes, "Event types", viewer.href("/event-types")));
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title, &viewer.brand))
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    div.bar {
                        (brand(viewer.area, &viewer.brand, Some(&viewer.caller)))
                        nav aria-label="Sections" {
                            ul {
                                @for (nav, label, href) in &entries {
                                    li {
                                        a href=(href) aria-current=[(*nav == active).then_some("page")] { (label) }
                                    }
                                }
                            }
                        }
                        @if viewer.signed_in {
                            form.who method="post" action=(viewer.href("/sign-out")) {
                                (csrf(viewer))
                                button type="submit" { "Sign out" }
                            }
                        }
                    }
                }
                main #main { (body) }
                @if viewer.area == Area::Portal {
                    // A portal link opened over a session: the script signs in anew.
                    script src=(assets::script()) {}
                }
            }
        }
    }
}

/// A page without navigation: sign-in and errors.
pub fn bare(area: Area, b: &Brand, title: &str, script: bool, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title, b))
            body {
                header.top { div.bar { (brand(area, b, None)) } }
                main #main { (body) }
                @if script {
                    script src=(assets::script()) {}
                }
            }
        }
    }
}

/// The anti-forgery field every form carries.
pub fn csrf(viewer: &Viewer) -> Markup {
    html! { input type="hidden" name=(super::csrf::FIELD) value=(viewer.csrf()); }
}

pub fn when(t: DateTime<Utc>) -> Markup {
    html! { time datetime=(t.to_rfc3339()) { (t.format("%Y-%m-%d %H:%M:%S UTC")) } }
}

pub fn maybe_when(t: Option<DateTime<Utc>>) -> Markup {
    match t {
        Some(t) => when(t),
        None => html! { span.muted { "—" } },
    }
}

/// A duration in seconds as a person reads it: 42 s, 7 min, 3 h, 2 d.
pub fn age(seconds: f64) -> String {
    let s = seconds.max(0.0);
    if s < 120.0 {
        format!("{s:.0} s")
    } else if s < 7200.0 {
        format!("{:.0} min", s / 60.0)
    } else if s < 172_800.0 {
        format!("{:.0} h", s / 3600.0)
    } else {
        format!("{:.0} d", s / 86400.0)
    }
}

pub fn status(s: &str) -> Markup {
    html! { span class={ "badge " (s) } { (s) } }
}

pub fn enabled(enabled: bool) -> Markup {
    if enabled {
        status("enabled")
    } else {
        status("disabled")
    }
}

/// A notice at the top of a page: what the last action did, or why it could not.
pub fn notice(message: Option<&str>, error: bool) -> Markup {
    html! {
        @if let Some(m) = message {
            div.notice.error[error] role=(if error { "alert" } else { "status" }) { (m) }
        }
    }
}

/// "Newer first" lists have only a way on: the next page, if there is one.
pub fn pager(next: Option<&str>) -> Markup {
    html! {
        @if let Some(href) = next {
            div.pager {
                span {}
                a.button.secondary href=(href) rel="next" { "Older →" }
            }
        }
    }
}

/// Whether a list may hold more than one tenant's rows, and so shows whose
/// each is: the operator's lists do, a portal's never.
pub fn many_tenants(viewer: &Viewer) -> bool {
    viewer.caller == Caller::Operator
}

/// The operator's filter of a list by tenant (a portal's lists are one tenant's).
pub fn tenant_filter(viewer: &Viewer, list: &str, tenant: &str) -> Markup {
    html! {
        @if many_tenants(viewer) {
            form.panel method="get" action=(viewer.href(list)) role="search" aria-label="Filter by tenant" {
                div.filters {
                    div.field {
                        label for="tenant" { "Tenant" }
                        input #tenant type="text" name="tenant" value=(tenant) placeholder="any";
                    }
                    div.field { button type="submit" { "Filter" } }
                }
            }
        }
    }
}

/// A tenant in a list: its key, linking to the same list for it alone.
pub fn tenant_cell(viewer: &Viewer, list: &str, tenant: &str) -> Markup {
    html! { a href=(crate::console::pages::tenant_link(viewer, list, tenant)) { (tenant) } }
}

/// The last status code and error of a delivery or attempt, in one cell.
pub fn outcome(code: Option<i32>, error: Option<&str>) -> Markup {
    // A reason that starts with the status ("410 Gone: ...") says it once.
    let prefix = code.map(|c| format!("{c} "));
    let error = error.map(|e| match &prefix {
        Some(p) => e.strip_prefix(p.as_str()).unwrap_or(e),
        None => e,
    });
    html! {
        @if let Some(c) = code { span.mono { "HTTP " (c) } " " }
        @if let Some(e) = error { span.small.wrap { (e) } }
        @if code.is_none() && error.is_none() { span.muted { "—" } }
    }
}
