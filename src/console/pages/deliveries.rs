//! `/console/deliveries`: the list with its filters, one delivery with every
//! attempt, and its retry.

use actix_web::web::{Data, Path};
use actix_web::{HttpRequest, HttpResponse};
use chrono::{NaiveDateTime, TimeZone, Utc};

use super::{delivery_table, html, id, non_empty, notice, see_other, with_query, NoFields};
use crate::api::pagination::{Paginated, Query};
use crate::api::{self, AppState};
use crate::console::csrf::Posted;
use crate::console::error::ConsoleError;
use crate::console::session::Viewer;
use crate::console::templates::deliveries::{page, DeliveriesPage, Filters};
use crate::console::templates::delivery::{self, DeliveryPage};
use crate::delivery::send::headers_sent;
use crate::store::{deliveries, events, stats};

/// A time from the form's `datetime-local` field (no zone: UTC, as labelled)
/// or from an address written by hand (RFC 3339), as RFC 3339.
fn as_rfc3339(value: &str) -> String {
    ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(value, f).ok())
        .map(|t| Utc.from_utc_datetime(&t).to_rfc3339())
        .unwrap_or_else(|| value.to_owned())
}

pub async fn list(
    state: Data<AppState>,
    viewer: Viewer,
    req: HttpRequest,
) -> Result<HttpResponse, ConsoleError> {
    let asked = non_empty(req.query_string())?;
    let get = |name: &str| {
        asked
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let filters = Filters {
        status: get("status"),
        event_type: get("event_type"),
        webhook_id: get("webhook_id"),
        created_after: get("created_after"),
        created_before: get("created_before"),
        tenant: get("tenant"),
    };
    let for_api: Vec<(String, String)> = asked
        .iter()
        .map(|(k, v)| match k.as_str() {
            "created_after" | "created_before" => (k.clone(), as_rfc3339(v)),
            _ => (k.clone(), v.trim().to_owned()),
        })
        .collect();
    let query = Query::parse(&serde_urlencoded::to_string(&for_api).unwrap_or_default())?;
    let page_of = query.page()?;
    let filter = api::deliveries::filter(&query)?;
    let tenant = query.tenant()?;
    let scope = viewer.caller.list_scope(tenant.as_ref())?;
    let client = state.db().await?;
    let rows = deliveries::list(&client, page_of, scope, &filter).await?;
    let listed = Paginated::new(rows, page_of, |d| (d.created_at, d.id));
    let next = listed.next_cursor.map(|cursor| {
        let mut pairs: Vec<(String, String)> = asked
            .iter()
            .filter(|(k, _)| k != "cursor")
            .cloned()
            .collect();
        pairs.push(("cursor".to_owned(), cursor));
        with_query(&viewer.href("/deliveries"), &pairs)
    });
    let table = delivery_table(&client, &viewer, &listed.data, next.as_deref(), true).await?;
    Ok(html(page(&DeliveriesPage {
        viewer: &viewer,
        filters,
        table,
    })))
}

pub async fn show(
    state: Data<AppState>,
    viewer: Viewer,
    raw: Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ConsoleError> {
    let id = id("delivery", &raw)?;
    let client = state.db().await?;
    let found = deliveries::get(&client, id, viewer.scope())
        .await?
        .ok_or_else(|| ConsoleError::NotFound(format!("no delivery with id {id}")))?;
    let attempts = deliveries::attempts(&client, id, viewer.scope()).await?;
    let event = events::get(&client, found.event_id, viewer.scope()).await?;
    let urls = stats::webhook_urls_of(&client, &[found.webhook_id], viewer.scope()).await?;
    let event_type = event.as_ref().map(|e| e.event_type.as_str());
    let headers = attempts
        .iter()
        .map(|a| {
            headers_sent(
                id,
                event_type.unwrap_or_default(),
                a.started_at,
                a.request_headers.as_ref(),
            )
        })
        .collect();
    let query = Query::parse(req.query_string())?;
    Ok(html(delivery::page(&DeliveryPage {
        viewer: &viewer,
        delivery: &found,
        attempts: &attempts,
        event_type,
        // The bytes the receiver got, not a reformatting of them: re-indenting
        // through serde would sort the keys and rewrite numbers, and the page
        // is where a signature mismatch gets looked into.
        payload: event.as_ref().map(|e| e.payload.get().to_owned()),
        webhook_url: urls.get(&found.webhook_id).map(String::as_str),
        headers,
        notice: notice(&query),
    })))
}

pub async fn retry(
    state: Data<AppState>,
    raw: Path<String>,
    posted: Posted<NoFields>,
) -> Result<HttpResponse, ConsoleError> {
    let id = id("delivery", &raw)?;
    crate::service::deliveries::requeue(&state, posted.viewer.scope(), id).await?;
    Ok(see_other(
        &posted
            .viewer
            .href(&format!("/deliveries/{id}?done=retried")),
    ))
}
