//! What the API and the console both do: the operations that change things
//! (register, change, delete a webhook; rotate its secret; send a test
//! event; requeue dead letters; retry a delivery; the catalog's writes) and
//! the checks that come with them. The API's handlers and the console's pages
//! are two thin adapters over these: each parses its own input (JSON or a
//! form) into the raw values here, calls one operation, and shapes the answer
//! (problem+json or a page), so a form refuses exactly what the API refuses,
//! with the same words.
//!
//! An operation takes the process's shared state (`AppState`: the pool, the
//! caches it must tell, the settings) and the caller's scope, which the
//! adapters decide once (`api::auth`); every store call gets that scope.

pub mod catalog;
pub mod deliveries;
pub mod tenants;
pub mod webhooks;

use crate::store::StoreError;

/// Why an operation did not happen. Each adapter maps it to its own answer.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A value refused: 422 naming the field.
    #[error("{field}: {detail}")]
    Invalid { field: String, detail: String },
    #[error("{0}")]
    NotFound(String),
    /// Refused as things stand (a disabled webhook's test, a delivery still
    /// under way): 409.
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ServiceError {
    pub fn invalid(field: impl Into<String>, detail: impl std::fmt::Display) -> ServiceError {
        ServiceError::Invalid {
            field: field.into(),
            detail: detail.to_string(),
        }
    }

    /// `what` with this id does not exist, or not for this caller.
    pub fn no(what: &str, id: impl std::fmt::Display) -> ServiceError {
        let shown: String = id.to_string().chars().take(64).collect();
        ServiceError::NotFound(format!("no {what} with id {shown:?}"))
    }
}
