//! The API's one error type, and its one mapping to HTTP: problem+json (RFC 9457).
//!
//! Handlers return `ApiError`; nothing else in the API builds an error response.
//! A database that cannot be reached is a 503 the client can retry. A value
//! the database refuses (a CHECK, a type's limits) is the client's input: a
//! 422 naming the field. A database error of any other kind is a bug of ours:
//! it is logged (SQLSTATE, constraint, message; never a row's contents) and
//! answered with a 500 that says nothing about the internals.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("a valid bearer token is required: send Authorization: Bearer <token>")]
    Unauthorized,
    /// A tenant token on a route only the operator may use.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the request body is larger than the limit of {0} bytes")]
    TooLarge(usize),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    Invalid(String),
    /// Too many failed authentications from this address: wait this long.
    #[error("too many failed authentications from this address; try again in {} s", .0.as_secs().max(1))]
    TooManyFailures(std::time::Duration),
    #[error("the database is unavailable; try again shortly")]
    Unavailable(#[source] StoreError),
    #[error("internal error")]
    Internal(#[source] StoreError),
}

impl ApiError {
    /// 422 naming the field: `invalid("url", "must be http or https")`.
    pub fn invalid(field: &str, problem: impl std::fmt::Display) -> ApiError {
        ApiError::Invalid(format!("{field}: {problem}"))
    }

    fn title(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "Malformed request",
            ApiError::Unauthorized => "Unauthorized",
            ApiError::Forbidden(_) => "Forbidden",
            ApiError::NotFound(_) => "Not found",
            ApiError::Conflict(_) => "Conflict",
            ApiError::TooLarge(_) => "Payload too large",
            ApiError::UnsupportedMediaType(_) => "Unsupported media type",
            ApiError::Invalid(_) => "Invalid request",
            ApiError::TooManyFailures(_) => "Too many requests",
            ApiError::Unavailable(_) => "Service unavailable",
            ApiError::Internal(_) => "Internal error",
        }
    }

    fn slug(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "malformed-request",
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not-found",
            ApiError::Conflict(_) => "conflict",
            ApiError::TooLarge(_) => "payload-too-large",
            ApiError::UnsupportedMediaType(_) => "unsupported-media-type",
            ApiError::Invalid(_) => "invalid-request",
            ApiError::TooManyFailures(_) => "too-many-failures",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }
}

impl From<StoreError> for ApiError {
    /// The database refusing a value is the client's input at fault, whatever
    /// check let it through: a 4xx naming the field (from the constraint),
    /// never a 500. What the handlers validate should make these rare.
    fn from(e: StoreError) -> ApiError {
        if let StoreError::Refused { field, detail } = &e {
            return ApiError::invalid(field, detail);
        }
        if e.is_unavailable() {
            return ApiError::Unavailable(e);
        }
        let refused = |what: &str| {
            let field = e.constraint().map_or("request", field_of);
            let why = e.db_message().unwrap_or("refused");
            format!("{field}: {what} ({why})")
        };
        match e.code() {
            // Data exceptions, check and not-null violations, program limits.
            Some(c)
                if c.starts_with("22") || c.starts_with("54") || c == "23514" || c == "23502" =>
            {
                ApiError::Invalid(refused("the database refused this value"))
            }
            // Unique and foreign key: a concurrent change got there first.
            Some("23505" | "23503") => {
                ApiError::Conflict(refused("conflicts with a concurrent change; try again"))
            }
            _ => ApiError::Internal(e),
        }
    }
}

/// The field a constraint guards, from Postgres' naming of column constraints
/// (`webhooks_url_check` guards `url`).
fn field_of(constraint: &str) -> &str {
    let name = constraint
        .trim_end_matches("_check")
        .trim_end_matches("_fkey")
        .trim_end_matches("_key");
    name.split_once('_').map_or(name, |(_table, field)| field)
}

#[derive(utoipa::ToSchema, Serialize)]
pub struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: String,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyFailures(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            // Display: the SQLSTATE, constraint and message, never a row's contents.
            ApiError::Internal(e) => tracing::error!(error = %e, "request failed"),
            ApiError::Unavailable(e) => tracing::warn!(error = %e, "database unavailable"),
            _ => {}
        }
        let status = self.status_code();
        let mut response = HttpResponse::build(status);
        response.content_type("application/problem+json");
        if matches!(self, ApiError::Unauthorized) {
            response.insert_header(("WWW-Authenticate", "Bearer"));
        }
        if matches!(self, ApiError::Unavailable(_)) {
            response.insert_header(("Retry-After", "1"));
        }
        if let ApiError::TooManyFailures(wait) = self {
            response.insert_header(("Retry-After", wait.as_secs().max(1).to_string()));
        }
        response.json(Problem {
            kind: format!("https://hookrelay.dev/problems/{}", self.slug()),
            title: self.title(),
            status: status.as_u16(),
            detail: self.to_string(),
        })
    }
}

impl From<crate::service::ServiceError> for ApiError {
    fn from(e: crate::service::ServiceError) -> ApiError {
        use crate::service::ServiceError;
        match e {
            ServiceError::Invalid { field, detail } => ApiError::invalid(&field, detail),
            ServiceError::NotFound(m) => ApiError::NotFound(m),
            ServiceError::Conflict(m) => ApiError::Conflict(m),
            ServiceError::Store(e) => e.into(),
        }
    }
}
