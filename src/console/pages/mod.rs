//! The console's page handlers, one file per section. Each reads through the
//! store (or changes things through `crate::service`'s operations), fills a page
//! struct and renders it; a form's answer is a redirect to the page that
//! shows the result, so reloading never posts twice.

mod dead_letters;
mod deliveries;
mod event_types;
mod overview;
mod sign_in;
mod tenants;
mod webhooks;

use std::collections::HashMap;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse};
use maud::Markup;
use uuid::Uuid;

use super::area::Area;
use super::error::ConsoleError;
use super::session::Viewer;
use super::templates::deliveries::{table, Row};
use crate::api::pagination::Query;
use crate::store::deliveries::Delivery;
use crate::store::{stats, Client};

/// Every page and form of an area; the portal has the same but tenants.
pub fn register(scope: actix_web::Scope, area: Area) -> actix_web::Scope {
    let scope = match area {
        Area::Console => scope.route("/tenants", web::get().to(tenants::list)).route(
            "/tenants/{key}/portal",
            web::post().to(tenants::portal_link),
        ),
        Area::Portal => scope.route(
            "/brand.css",
            web::get().to(crate::console::brand::stylesheet),
        ),
    };
    scope
        .route("", web::get().to(overview::show))
        .route("/", web::get().to(overview::show))
        .route("/sign-in", web::get().to(sign_in::form))
        .route("/sign-in", web::post().to(sign_in::submit))
        .route("/sign-out", web::post().to(sign_in::sign_out))
        .route("/webhooks", web::get().to(webhooks::list))
        // Before /webhooks/{id}, which would take "new" for an id.
        .route("/webhooks/new", web::get().to(webhooks::new_form))
        .route("/webhooks/new", web::post().to(webhooks::create))
        .route("/webhooks/{id}", web::get().to(webhooks::show))
        .route("/webhooks/{id}", web::post().to(webhooks::edit))
        .route("/webhooks/{id}/delete", web::post().to(webhooks::delete))
        .route(
            "/webhooks/{id}/enabled",
            web::post().to(webhooks::set_enabled),
        )
        .route(
            "/webhooks/{id}/secret",
            web::post().to(webhooks::reveal_secret),
        )
        .route(
            "/webhooks/{id}/rotate-secret",
            web::post().to(webhooks::rotate_secret),
        )
        .route("/webhooks/{id}/test", web::post().to(webhooks::send_test))
        .route(
            "/webhooks/{id}/retry-failed",
            web::post().to(webhooks::retry_failed),
        )
        .route("/deliveries", web::get().to(deliveries::list))
        .route("/deliveries/{id}", web::get().to(deliveries::show))
        .route("/deliveries/{id}/retry", web::post().to(deliveries::retry))
        .route("/dead-letters", web::get().to(dead_letters::list))
        .route("/event-types", web::get().to(event_types::list))
        .route("/event-types", web::post().to(event_types::save))
        .route(
            "/event-types/{name}/archived",
            web::post().to(event_types::set_archived),
        )
}

/// A form with nothing to say but its anti-forgery token.
#[derive(serde::Deserialize)]
pub struct NoFields {}

pub async fn not_found() -> Result<HttpResponse, ConsoleError> {
    Err(ConsoleError::NotFound("there is no such page".into()))
}

fn html(markup: Markup) -> HttpResponse {
    page_with(StatusCode::OK, markup.into_string())
}

/// A rendered page, answered with `status`.
fn page_with(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body)
}

/// A redirect after a form: 303, so the browser follows with a GET.
fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location.to_owned()))
        .finish()
}

/// A path id: anything that is not a UUID names nothing, as in the API.
fn id(what: &str, raw: &str) -> Result<Uuid, ConsoleError> {
    Ok(crate::api::parse_id(what, raw)?)
}

/// What the last action did, from the redirect's `done` parameter: a fixed
/// set of sentences, so the address cannot put words on the page.
fn notice(query: &Query) -> Option<String> {
    if let Some(n) = query.get("requeued").and_then(|n| n.parse::<u64>().ok()) {
        return Some(match n {
            0 => "There were no failed deliveries to retry.".to_owned(),
            1 => "1 failed delivery is queued again.".to_owned(),
            n => format!("{n} failed deliveries are queued again."),
        });
    }
    let sentence = match query.get("done")? {
        "retried" => "Queued again: it will be attempted shortly.",
        "saved" => "Saved.",
        "enabled" => "Enabled: its held deliveries are due again.",
        "disabled" => "Disabled: its pending deliveries are held until it is enabled.",
        "test" => "Test event queued: this is its delivery.",
        "deleted" => "Deleted: nothing more is sent to it.",
        _ => return None,
    };
    Some(sentence.to_owned())
}

/// A page of deliveries as a table, each labelled with its event's type and
/// its webhook's URL (two primary-key look-ups for the page).
async fn delivery_table(
    client: &Client,
    viewer: &Viewer,
    rows: &[Delivery],
    next: Option<&str>,
    show_webhook: bool,
) -> Result<Markup, ConsoleError> {
    let mut event_ids: Vec<Uuid> = rows.iter().map(|d| d.event_id).collect();
    event_ids.sort();
    event_ids.dedup();
    let mut webhook_ids: Vec<Uuid> = rows.iter().map(|d| d.webhook_id).collect();
    webhook_ids.sort();
    webhook_ids.dedup();
    let types = stats::event_types_of(client, &event_ids, viewer.scope()).await?;
    let urls: HashMap<Uuid, String> = if show_webhook {
        stats::webhook_urls_of(client, &webhook_ids, viewer.scope()).await?
    } else {
        HashMap::new()
    };
    let labelled: Vec<Row> = rows
        .iter()
        .map(|d| Row {
            delivery: d,
            event_type: types.get(&d.event_id).map(String::as_str),
            url: urls.get(&d.webhook_id).map(String::as_str),
        })
        .collect();
    Ok(table(viewer, &labelled, next, show_webhook))
}

/// The query string without empty values (an unfilled form field means "any"),
/// as the API's parser expects it.
fn non_empty(query_string: &str) -> Result<Vec<(String, String)>, ConsoleError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query_string)
        .map_err(|e| ConsoleError::BadRequest(format!("the address is malformed: {e}")))?;
    Ok(pairs
        .into_iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .collect())
}

/// A list of the viewer's area limited to one tenant (`?tenant=`).
pub fn tenant_link(viewer: &Viewer, path: &str, tenant: &str) -> String {
    with_query(
        &viewer.href(path),
        &[("tenant".to_owned(), tenant.to_owned())],
    )
}

/// `path?pairs`, for links that keep a list's filters.
fn with_query(path: &str, pairs: &[(String, String)]) -> String {
    match serde_urlencoded::to_string(pairs) {
        Ok(q) if !q.is_empty() => format!("{path}?{q}"),
        _ => path.to_owned(),
    }
}
