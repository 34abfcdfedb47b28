//! `/console/event-types`: the catalog, which the operator edits here and a
//! tenant's portal shows read-only. Writes are the service's (the API's
//! `PUT /event-types/{type}`), so a schema refused there is refused here.

use actix_web::http::StatusCode;
use actix_web::web::{Data, Path};
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;

use super::{notice, page_with, see_other};
use crate::api::auth::Caller;
use crate::api::pagination::Query;
use crate::api::AppState;
use crate::console::csrf::Posted;
use crate::console::error::ConsoleError;
use crate::console::session::Viewer;
use crate::console::templates::event_types::{page, EventTypesPage, Listed, TypeFields};
use crate::domain::{example_payload, EventType};
use crate::service::catalog::EventTypeEdit;
use crate::service::{self, ServiceError};
use crate::store::event_types::{self, EventTypeEntry};

async fn render(
    state: &AppState,
    viewer: &Viewer,
    form: TypeFields,
    notice: Option<String>,
    error: Option<String>,
) -> Result<String, ConsoleError> {
    let page_of = Query::parse("limit=500")?.page_by::<String>()?;
    let entries = event_types::list(&state.db().await?, &page_of).await?;
    let mut types = Vec::with_capacity(entries.len());
    // A tenant picks from what it may subscribe to.
    for entry in entries
        .iter()
        .filter(|e| viewer.caller == Caller::Operator || !e.archived)
    {
        types.push(Listed {
            entry,
            example: example_of(state, entry).await?,
        });
    }
    Ok(page(&EventTypesPage {
        viewer,
        types,
        form,
        notice,
        error,
    })
    .into_string())
}

/// An example payload for the type, only if its own schema accepts it,
/// checked with the schema the catalog cache has compiled (as ingest does),
/// not one compiled anew for every page.
async fn example_of(
    state: &AppState,
    entry: &EventTypeEntry,
) -> Result<Option<serde_json::Value>, ConsoleError> {
    let Some(example) = entry.schema.as_ref().and_then(example_payload) else {
        return Ok(None);
    };
    let rules = state.catalog.rules(&state.pool, &entry.name).await?;
    let accepted = rules
        .as_deref()
        .and_then(|r| r.schema.as_ref())
        .is_some_and(|schema| schema.check(&example).is_ok());
    Ok(accepted.then_some(example))
}

pub async fn list(
    state: Data<AppState>,
    viewer: Viewer,
    req: HttpRequest,
) -> Result<HttpResponse, ConsoleError> {
    let query = Query::parse(req.query_string())?;
    let mut form = TypeFields::default();
    if let (Caller::Operator, Some(name)) = (&viewer.caller, query.get("edit")) {
        if let Some(entry) = event_types::get(&state.db().await?, name).await? {
            form = TypeFields::of(&entry);
        }
    }
    let done = match query.get("done") {
        Some("saved") => Some("Saved.".to_owned()),
        Some("archived") => Some(
            "Archived: with HOOKRELAY_REQUIRE_EVENT_TYPES, no new events or subscriptions of it."
                .to_owned(),
        ),
        Some("unarchived") => Some("Unarchived.".to_owned()),
        _ => notice(&query),
    };
    Ok(page_with(
        StatusCode::OK,
        render(&state, &viewer, form, done, None).await?,
    ))
}

#[derive(Deserialize)]
pub struct TypeForm {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    schema: String,
}

fn only_the_operator(viewer: &Viewer) -> Result<(), ConsoleError> {
    match viewer.caller {
        Caller::Operator => Ok(()),
        // The portal shows the catalog; changing it is the operator's.
        Caller::Tenant(_) => Err(ConsoleError::NotFound("there is no such page".into())),
    }
}

/// Adds a type or changes one, as `PUT /event-types/{type}` with both fields.
pub async fn save(
    state: Data<AppState>,
    posted: Posted<TypeForm>,
) -> Result<HttpResponse, ConsoleError> {
    let viewer = &posted.viewer;
    only_the_operator(viewer)?;
    let f = &posted.form;
    let saved = async {
        let schema = match f.schema.trim() {
            "" => None,
            text => Some(
                serde_json::from_str(text)
                    .map_err(|e| ServiceError::invalid("schema", format!("is not JSON: {e}")))?,
            ),
        };
        let description = Some(f.description.trim().to_owned()).filter(|d| !d.is_empty());
        let edit = EventTypeEdit {
            description: Some(description),
            schema: Some(schema),
            archived: None,
        };
        service::catalog::put(&state, f.name.trim(), edit).await
    }
    .await;
    match saved {
        Ok(_) => Ok(see_other(&viewer.href("/event-types?done=saved"))),
        Err(e @ ServiceError::Invalid { .. }) => {
            let form = TypeFields {
                name: f.name.clone(),
                description: f.description.clone(),
                schema: f.schema.clone(),
            };
            Ok(page_with(
                StatusCode::UNPROCESSABLE_ENTITY,
                render(&state, viewer, form, None, Some(e.to_string())).await?,
            ))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct ArchivedField {
    archived: bool,
}

pub async fn set_archived(
    state: Data<AppState>,
    raw: Path<String>,
    posted: Posted<ArchivedField>,
) -> Result<HttpResponse, ConsoleError> {
    let viewer = &posted.viewer;
    only_the_operator(viewer)?;
    let name = EventType::parse(&raw)
        .map_err(|_| ConsoleError::NotFound(format!("no event type {:?}", raw.as_str())))?;
    if event_types::get(&state.db().await?, name.as_str())
        .await?
        .is_none()
    {
        return Err(ConsoleError::NotFound(format!(
            "no event type {:?}",
            name.as_str()
        )));
    }
    let archived = posted.form.archived;
    let edit = EventTypeEdit {
        archived: Some(archived),
        ..EventTypeEdit::default()
    };
    service::catalog::put(&state, name.as_str(), edit).await?;
    let done = if archived { "archived" } else { "unarchived" };
    Ok(see_other(
        &viewer.href(&format!("/event-types?done={done}")),
    ))
}
