//! The event-type catalog's writes, and what it imposes on events and
//! subscriptions. A change is told to this process's catalog cache before it
//! returns, so the next event here already sees it (other processes hear it
//! by NOTIFY: `crate::catalog`). The catalog is the operator's: adapters let
//! tenants read it, never call these writes for them.

use serde_json::value::RawValue;
use serde_json::Value;

use super::ServiceError;
use crate::api::AppState;
use crate::catalog::Rules;
use crate::domain::{parse_description, EventSchema, EventType, EventTypeFilter, RESERVED_PREFIX};
use crate::store::event_types::{self, EventTypeChanges, EventTypeEntry};
use crate::store::StoreError;

/// A change to a catalog entry as given; `None` keeps a field, `Some(None)`
/// clears it.
#[derive(Debug, Default)]
pub struct EventTypeEdit {
    pub description: Option<Option<String>>,
    pub schema: Option<Option<Value>>,
    pub archived: Option<bool>,
}

/// Adds `name` to the catalog or changes it; returns the entry and whether
/// it is new.
pub async fn put(
    state: &AppState,
    name: &str,
    edit: EventTypeEdit,
) -> Result<(EventTypeEntry, bool), ServiceError> {
    // hookrelay's own types are not the operator's to describe.
    let name = EventType::parse_emitted(name).map_err(|e| ServiceError::invalid("type", e))?;
    let changes = EventTypeChanges {
        description: edit
            .description
            .map(|d| d.as_deref().map(parse_description).transpose())
            .transpose()
            .map_err(|e| ServiceError::invalid("description", e))?,
        schema: edit
            .schema
            .map(|s| s.map(EventSchema::parse).transpose())
            .transpose()
            .map_err(|e| ServiceError::invalid("schema", e))?,
        archived: edit.archived,
    };
    let (entry, created) = event_types::put(&state.db().await?, &name, &changes)
        .await
        .map_err(schema_refused)?;
    state.catalog.forget(name.as_str());
    Ok((entry, created))
}

/// Postgres' jsonb refuses some JSON serde takes (`\u0000`, a lone
/// surrogate), and the schema is the only free JSON the catalog stores.
fn schema_refused(e: StoreError) -> ServiceError {
    match e.code() {
        Some(code) if code.starts_with("22") => ServiceError::invalid(
            "schema",
            "holds a value PostgreSQL cannot store (such as \\u0000 or a lone surrogate like \\ud800)",
        ),
        _ => e.into(),
    }
}

/// Removes `name` from the catalog; false when it was not there. Events and
/// webhooks that name it keep it.
pub async fn delete(state: &AppState, name: &EventType) -> Result<bool, ServiceError> {
    let deleted = event_types::delete(&state.db().await?, name.as_str()).await?;
    if deleted {
        state.catalog.forget(name.as_str());
    }
    Ok(deleted)
}

/// An event of `event_type` with this payload, as the catalog has it: the
/// payload against the type's schema; with HOOKRELAY_REQUIRE_EVENT_TYPES, a
/// type the catalog does not hold, or holds archived, is refused.
pub async fn admit_event(
    state: &AppState,
    event_type: &EventType,
    payload: &RawValue,
) -> Result<(), ServiceError> {
    let require = state.config.require_event_types;
    let rules = state
        .catalog
        .rules(&state.pool, event_type.as_str())
        .await?;
    let schema = match rules.as_deref() {
        None if require => {
            return Err(ServiceError::invalid("type", unlisted(event_type.as_str())))
        }
        Some(Rules { archived: true, .. }) if require => {
            return Err(ServiceError::invalid("type", archived(event_type.as_str())))
        }
        Some(Rules {
            schema: Some(schema),
            ..
        }) => schema,
        _ => return Ok(()),
    };
    // Valid JSON already, and within serde's nesting limit (`Payload::parse`).
    let value: Value =
        serde_json::from_str(payload.get()).map_err(|e| ServiceError::invalid("payload", e))?;
    schema.check(&value).map_err(|v| {
        if v.at.is_empty() {
            ServiceError::invalid("payload", v.problem)
        } else {
            ServiceError::invalid(format!("payload at {}", v.at), v.problem)
        }
    })
}

/// With HOOKRELAY_REQUIRE_EVENT_TYPES, every type a webhook subscribes to is
/// in the catalog and not archived. The wildcard, and hookrelay's own types,
/// are not the catalog's to refuse.
pub async fn require_listed(state: &AppState, types: &EventTypeFilter) -> Result<(), ServiceError> {
    if !state.config.require_event_types {
        return Ok(());
    }
    for t in types
        .as_slice()
        .iter()
        .filter(|t| *t != "*" && !t.starts_with(RESERVED_PREFIX))
    {
        match state.catalog.rules(&state.pool, t).await?.as_deref() {
            None => return Err(ServiceError::invalid("event_types", unlisted(t))),
            Some(Rules { archived: true, .. }) => {
                return Err(ServiceError::invalid("event_types", archived(t)))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// A data exception from the insert is the client's payload at fault, a 422,
/// not a server error. `Payload::parse` refuses before what PostgreSQL's json
/// input is known to refuse (too deep a document; `\u0000` and lone
/// surrogates, which jsonb refused), so this is the net under it.
pub fn payload_rejected(e: StoreError) -> ServiceError {
    match e.code() {
        Some(code) if code.starts_with("22") => {
            ServiceError::invalid("payload", "holds a value PostgreSQL cannot store")
        }
        _ => e.into(),
    }
}

fn unlisted(name: &str) -> String {
    format!("{name:?} is not in the event-type catalog, and HOOKRELAY_REQUIRE_EVENT_TYPES is on (PUT /event-types/{name} adds it)")
}

fn archived(name: &str) -> String {
    format!(
        "{name:?} is archived in the event-type catalog, and HOOKRELAY_REQUIRE_EVENT_TYPES is on"
    )
}
