//! `/console/webhooks`: the list with health, one webhook with its recent
//! deliveries, and its forms: edit, enable or disable, reveal or rotate the
//! secret, send a test event, retry its dead letters. Every change goes
//! through the API's own operation (`crate::api::webhooks`).

use actix_web::http::StatusCode;
use actix_web::web::{Data, Path};
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;
use uuid::Uuid;

use super::{delivery_table, html, id, notice, page_with, see_other, with_query, NoFields};
use crate::api::pagination::{Paginated, Query};
use crate::api::{self, ApiError, AppState};
use crate::console::csrf::Posted;
use crate::console::error::ConsoleError;
use crate::console::session::Viewer;
use crate::console::templates::webhook::{self, EditForm, WebhookPage};
use crate::console::templates::webhooks::{page, WebhooksPage};
use crate::domain::EventType;
use crate::store::deliveries::{self, Filter};
use crate::store::webhooks::{self, WebhookChanges};
use crate::store::{stats, Page};

pub async fn list(
    state: Data<AppState>,
    viewer: Viewer,
    req: HttpRequest,
) -> Result<HttpResponse, ConsoleError> {
    let query = Query::parse(req.query_string())?;
    let page_of = query.page()?;
    let tenant = query.tenant()?;
    let scope = viewer.caller.list_scope(tenant.as_ref())?;
    let client = state.db().await?;
    let rows = webhooks::list(&client, page_of, scope).await?;
    let listed = Paginated::new(rows, page_of, |w| (w.created_at, w.id));
    let ids: Vec<Uuid> = listed.data.iter().map(|w| w.id).collect();
    let health = stats::health(&client, &ids, viewer.scope()).await?;
    let next = listed
        .next_cursor
        .map(|c| with_query(&viewer.href("/webhooks"), &[("cursor".to_owned(), c)]));
    Ok(html(page(&WebhooksPage {
        viewer: &viewer,
        rows: listed
            .data
            .iter()
            .map(|w| (w, health.get(&w.id).cloned().unwrap_or_default()))
            .collect(),
        tenant: tenant.map(|t| t.as_str().to_owned()).unwrap_or_default(),
        next,
    })))
}

/// What a webhook page shows besides the webhook itself.
#[derive(Default)]
struct Extras {
    secret: Option<String>,
    notice: Option<String>,
    error: Option<String>,
    form: Option<EditForm>,
    cursor: Option<String>,
}

async fn render(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    extras: Extras,
) -> Result<String, ConsoleError> {
    let client = state.db().await?;
    let found = webhooks::get(&client, id, viewer.scope())
        .await?
        .ok_or_else(|| ConsoleError::NotFound(format!("no webhook with id {id}")))?;
    let health = stats::health(&client, &[id], viewer.scope())
        .await?
        .remove(&id)
        .unwrap_or_default();
    let mut cursor = String::new();
    if let Some(c) = &extras.cursor {
        cursor = format!("cursor={c}");
    }
    let page_of: Page = Query::parse(&cursor)?.page()?;
    let filter = Filter {
        webhook_id: Some(id),
        ..Filter::default()
    };
    let rows = deliveries::list(&client, page_of, viewer.scope(), &filter).await?;
    let listed = Paginated::new(rows, page_of, |d| (d.created_at, d.id));
    let next = listed.next_cursor.map(|c| {
        with_query(
            &viewer.href(&format!("/webhooks/{id}")),
            &[("cursor".to_owned(), c)],
        )
    });
    let table = delivery_table(&client, viewer, &listed.data, next.as_deref(), false).await?;
    let form = extras.form.unwrap_or_else(|| EditForm::of(&found));
    Ok(webhook::page(&WebhookPage {
        viewer,
        webhook: &found,
        health,
        deliveries: table,
        form,
        secret: extras.secret,
        notice: extras.notice,
        error: extras.error,
    })
    .into_string())
}

pub async fn show(
    state: Data<AppState>,
    viewer: Viewer,
    raw: Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ConsoleError> {
    let id = id("webhook", &raw)?;
    let query = Query::parse(req.query_string())?;
    let extras = Extras {
        notice: notice(&query),
        cursor: query.get("cursor").map(str::to_owned),
        ..Extras::default()
    };
    Ok(page_with(
        StatusCode::OK,
        render(&state, &viewer, id, extras).await?,
    ))
}

#[derive(Deserialize)]
pub struct EditFields {
    url: String,
    event_types: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    rate_limit: String,
}

/// The form's fields as a PATCH, parsed as the API parses its JSON.
fn changes(state: &AppState, f: &EditFields) -> Result<WebhookChanges, ApiError> {
    // Commas and line breaks separate types; a space does not, so a type
    // typed with one is refused as the API refuses it, not split into several.
    let types: Vec<String> = f
        .event_types
        .split([',', '\n'])
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    let rate_limit = match f.rate_limit.trim() {
        "" => None,
        n => Some(
            n.parse::<i64>()
                .map_err(|_| ApiError::invalid("rate_limit", "must be a whole number"))?,
        ),
    };
    let description = Some(f.description.trim()).filter(|d| !d.is_empty());
    Ok(WebhookChanges {
        url: Some(api::webhooks::parse_url(state, f.url.trim())?),
        event_types: Some(api::webhooks::parse_event_types(&types)?),
        description: Some(api::webhooks::parse_optional_description(description)?),
        rate_limit: Some(api::webhooks::parse_rate_limit(rate_limit)?),
        ..WebhookChanges::default()
    })
}

pub async fn edit(
    state: Data<AppState>,
    raw: Path<String>,
    posted: Posted<EditFields>,
) -> Result<HttpResponse, ConsoleError> {
    let id = id("webhook", &raw)?;
    let viewer = &posted.viewer;
    let applied = match changes(&state, &posted.form) {
        Ok(c) => api::webhooks::change(&state, viewer.scope(), id, &c)
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    match applied {
        Ok(()) => Ok(see_other(
            &viewer.href(&format!("/webhooks/{id}?done=saved")),
        )),
        // A refused value: the form again, as typed, with the reason.
        Err(e @ (ApiError::Invalid(_) | ApiError::BadRequest(_))) => {
            let f = &posted.form;
            let extras = Extras {
                error: Some(e.to_string()),
                form: Some(EditForm {
                    url: f.url.clone(),
                    event_types: f.event_types.clone(),
                    description: f.description.clone(),
                    rate_limit: f.rate_limit.clone(),
                }),
                ..Extras::default()
            };
            Ok(page_with(
                StatusCode::UNPROCESSABLE_ENTITY,
                render(&state, viewer, id, extras).await?,
            ))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct EnabledField {
    enabled: bool,
}

pub async fn set_enabled(
    state: Data<AppState>,
    raw: Path<String>,
    posted: Posted<EnabledField>,
) -> Result<HttpResponse, ConsoleError> {
    let id = id("webhook", &raw)?;
    let enabled = posted.form.enabled;
    let changes = WebhookChanges {
        enabled: Some(enabled),
        ..WebhookChanges::default()
    };
    api::webhooks::change(&state, posted.viewer.scope(), id, &changes).await?;
    let done = if enabled { "enabled" } else { "disabled" };
    Ok(see_other(
        &posted.viewer.href(&format!("/webhooks/{id}?done={done}")),
    ))
}

/// The secret is shown in the answer to a POST, never at an address: it
/// stays out of history, caches and server logs.
pub async fn reveal_secret(
    state: Data<AppState>,
    raw: Path<String>,
    posted: Posted<NoFields>,
) -> Result<HttpResponse, ConsoleError> {
    let id = id("webhook", &raw)?;
    let secret = webhooks::secret(
        &state.db().await?,
        id,
        posted.viewer.scope(),
        &state.config.keys,
    )
    .await?
    .ok_or_else(|| ConsoleError::NotFound(format!("no webhook with id {id}")))?;
    let extras = Extras {
        secret: Some(secret),
        ..Extras::default()
    };
    Ok(page_with(
        StatusCode::OK,
        render(&state, &posted.viewer, id, extras).await?,
    ))
}

pub async fn rotate_secret(
    state: Data<AppState>,
    raw: Path<String>,
    posted: Posted<NoFields>,
) -> Result<HttpResponse, ConsoleError> {
    let id = id("webhook", &raw)?;
    let secret = api::webhooks::rotate(&state, posted.viewer.scope(), id).await?;
    let extras = Extras {
        secret: Some(secret),
        notice: Some(
            "Rotated. The old secret keeps signing too for 24 hours; this is the new one."
                .to_owned(),
        ),
        ..Extras::default()
    };
    Ok(page_with(
        StatusCode::OK,
        render(&state, &posted.viewer, id, extras).await?,
    ))
}

pub async fn send_test(
    state: Data<AppState>,
    raw: Path<String>,
    posted: Posted<NoFields>,
) -> Result<HttpResponse, ConsoleError> {
    let id = id("webhook", &raw)?;
    let delivery =
        api::webhooks::test_event(&state, posted.viewer.scope(), id, &EventType::test(), None)
            .await?;
    Ok(see_other(
        &posted
            .viewer
            .href(&format!("/deliveries/{delivery}?done=test")),
    ))
}

#[derive(Deserialize)]
pub struct BackField {
    #[serde(default)]
    back: String,
}

pub async fn retry_failed(
    state: Data<AppState>,
    raw: Path<String>,
    posted: Posted<BackField>,
) -> Result<HttpResponse, ConsoleError> {
    let id = id("webhook", &raw)?;
    let requeued = api::webhooks::requeue_failed(&state, posted.viewer.scope(), id, None).await?;
    // Back where the button was: a fixed choice, never an address from the form.
    let page = match posted.form.back.as_str() {
        "dead-letters" => "/dead-letters".to_owned(),
        _ => format!("/webhooks/{id}"),
    };
    Ok(see_other(
        &posted.viewer.href(&format!("{page}?requeued={requeued}")),
    ))
}
