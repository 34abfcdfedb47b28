//! `/console/webhooks`: the list with health, a new webhook, one webhook with
//! its recent deliveries, and its forms: edit, delete, enable or disable,
//! reveal or rotate the secret, send a test event, retry its dead letters.
//! Every change is the service's operation (`crate::service::webhooks`), the
//! one the API calls, so a form refuses what the API refuses.

use actix_web::http::StatusCode;
use actix_web::web::{Data, Path};
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;
use uuid::Uuid;

use super::{delivery_table, html, id, notice, page_with, see_other, with_query, NoFields};
use crate::api::auth::Caller;
use crate::api::pagination::{Paginated, Query};
use crate::api::AppState;
use crate::console::csrf::Posted;
use crate::console::error::ConsoleError;
use crate::console::session::Viewer;
use crate::console::templates::webhook::{self, WebhookPage};
use crate::console::templates::webhook_form::WebhookFields;
use crate::console::templates::webhooks::{new_page, page, NewWebhookPage, WebhooksPage};
use crate::domain::EventType;
use crate::service::webhooks::{WebhookEdit, WebhookInput};
use crate::service::{self, ServiceError};
use crate::store::deliveries::{self, Filter};
use crate::store::event_types::{self, EventTypeEntry};
use crate::store::webhooks::{self, WebhookChanges};
use crate::store::{stats, Client, Page};

/// The catalog as the type picker offers it: its first 500 entries, newest
/// first (a catalog is tens of types, not thousands).
async fn catalog(client: &Client) -> Result<Vec<EventTypeEntry>, ConsoleError> {
    let page = Query::parse("limit=500")?.page_by::<String>()?;
    Ok(event_types::list(client, &page).await?)
}

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
        notice: notice(&query),
        next,
    })))
}

/// What a webhook page shows besides the webhook itself.
#[derive(Default)]
struct Extras {
    secret: Option<String>,
    notice: Option<String>,
    error: Option<String>,
    form: Option<WebhookFields>,
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
    let catalog = catalog(&client).await?;
    let form = extras
        .form
        .unwrap_or_else(|| WebhookFields::of(&found, &catalog));
    Ok(webhook::page(&WebhookPage {
        viewer,
        webhook: &found,
        health,
        deliveries: table,
        form,
        catalog: &catalog,
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

/// The form as a change: every field it has replaces the webhook's.
fn edit_of(f: &WebhookFields) -> Result<WebhookEdit, ServiceError> {
    Ok(WebhookEdit {
        url: Some(f.url.clone()),
        event_types: Some(f.types()),
        description: Some(f.description()),
        rate_limit: Some(f.rate_limit()?),
        max_in_flight: f
            .max_in_flight
            .as_ref()
            .map(|_| f.max_in_flight())
            .transpose()?,
        headers: f.header_map()?.map(Some),
        enabled: None,
    })
}

pub async fn edit(
    state: Data<AppState>,
    raw: Path<String>,
    posted: Posted<Vec<(String, String)>>,
) -> Result<HttpResponse, ConsoleError> {
    let id = id("webhook", &raw)?;
    let viewer = &posted.viewer;
    let form = WebhookFields::posted(&posted.form);
    let applied = async {
        let changes = service::webhooks::parse_edit(&state, edit_of(&form)?)?;
        service::webhooks::change(&state, viewer.scope(), id, &changes).await
    }
    .await;
    match applied {
        Ok(_) => Ok(see_other(
            &viewer.href(&format!("/webhooks/{id}?done=saved")),
        )),
        // A refused value: the form again, as typed, with the reason.
        Err(e @ ServiceError::Invalid { .. }) => {
            let extras = Extras {
                error: Some(e.to_string()),
                form: Some(form),
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

/// `/webhooks/new`: the form, with the catalog's types to pick from.
pub async fn new_form(state: Data<AppState>, viewer: Viewer) -> Result<HttpResponse, ConsoleError> {
    let catalog = catalog(&state.db().await?).await?;
    let form = WebhookFields {
        headers: Some(String::new()),
        max_in_flight: Some(String::new()),
        ..WebhookFields::default()
    };
    Ok(html(new_page(&NewWebhookPage {
        viewer: &viewer,
        form: &form,
        catalog: &catalog,
        error: None,
    })))
}

/// Registers the webhook, as `POST /webhooks` does, and answers with its page
/// showing the new secret: this once, in the answer to a POST, never at an
/// address (history, caches and logs never hold it).
pub async fn create(
    state: Data<AppState>,
    posted: Posted<Vec<(String, String)>>,
) -> Result<HttpResponse, ConsoleError> {
    let viewer = &posted.viewer;
    let form = WebhookFields::posted(&posted.form);
    let created = async {
        let tenant = match &viewer.caller {
            Caller::Operator => Some(form.tenant.as_str()).filter(|t| !t.is_empty()),
            Caller::Tenant(_) => None,
        };
        let tenant = viewer.caller.tenant_for_new(tenant).map_err(|e| {
            ServiceError::invalid("tenant", e.to_string().trim_start_matches("tenant: "))
        })?;
        let input = WebhookInput {
            url: form.url.clone(),
            event_types: form.types(),
            description: form.description(),
            rate_limit: form.rate_limit()?,
            max_in_flight: form.max_in_flight()?,
            headers: form.header_map()?,
            ..WebhookInput::default()
        };
        service::webhooks::create(&state, tenant, input).await
    }
    .await;
    match created {
        Ok((webhook, secret)) => {
            let extras = Extras {
                secret: Some(secret.expose().to_owned()),
                notice: Some(
                    "Created. Its signing secret is below: copy it now, for your receiver to verify deliveries with."
                        .to_owned(),
                ),
                ..Extras::default()
            };
            Ok(page_with(
                StatusCode::CREATED,
                render(&state, viewer, webhook.id, extras).await?,
            ))
        }
        Err(e @ ServiceError::Invalid { .. }) => {
            let catalog = catalog(&state.db().await?).await?;
            let error = e.to_string();
            Ok(page_with(
                StatusCode::UNPROCESSABLE_ENTITY,
                new_page(&NewWebhookPage {
                    viewer,
                    form: &form,
                    catalog: &catalog,
                    error: Some(&error),
                })
                .into_string(),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

/// Deletes it, as `DELETE /webhooks/{id}` does: when the list shows, nothing
/// more is sent to it.
pub async fn delete(
    state: Data<AppState>,
    raw: Path<String>,
    posted: Posted<NoFields>,
) -> Result<HttpResponse, ConsoleError> {
    let id = id("webhook", &raw)?;
    service::webhooks::delete(&state, posted.viewer.scope(), id).await?;
    Ok(see_other(&posted.viewer.href("/webhooks?done=deleted")))
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
    service::webhooks::change(&state, posted.viewer.scope(), id, &changes).await?;
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
    let secret = service::webhooks::rotate(&state, posted.viewer.scope(), id).await?;
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
        service::webhooks::test_event(&state, posted.viewer.scope(), id, &EventType::test(), None)
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
    let requeued =
        service::webhooks::requeue_failed(&state, posted.viewer.scope(), id, None).await?;
    // Back where the button was: a fixed choice, never an address from the form.
    let page = match posted.form.back.as_str() {
        "dead-letters" => "/dead-letters".to_owned(),
        _ => format!("/webhooks/{id}"),
    };
    Ok(see_other(
        &posted.viewer.href(&format!("{page}?requeued={requeued}")),
    ))
}
