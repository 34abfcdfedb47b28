//! The console's one error type, and its one mapping to HTTP: an HTML page
//! with the status (put on by `headers::secure`, which knows the area), or,
//! for a visitor who is not signed in, a redirect to the sign-in form. Database errors are logged as the API logs them and shown
//! as nothing more than their kind.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};

use super::area::Area;
use super::brand::Brand;
use super::templates;
use crate::api::ApiError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("sign in first")]
    SignIn(Area),
    #[error("this form has expired or did not come from this page: reload the page and try again")]
    Forgery,
    /// The API found no caller it knows (a 401 there).
    #[error("{0}")]
    Unauthorized(String),
    /// The API's refusal of this caller (a 403 there: the operator's alone).
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the database is unavailable; try again shortly")]
    Unavailable(#[source] StoreError),
    #[error("internal error")]
    Internal(#[source] StoreError),
}

impl From<StoreError> for ConsoleError {
    fn from(e: StoreError) -> ConsoleError {
        ApiError::from(e).into()
    }
}

impl From<crate::service::ServiceError> for ConsoleError {
    /// As the API would answer it, so a form refuses what the API refuses.
    fn from(e: crate::service::ServiceError) -> ConsoleError {
        ApiError::from(e).into()
    }
}

impl From<ApiError> for ConsoleError {
    /// The API's judgement of a request, kept: what is a 404 there is a 404 here.
    fn from(e: ApiError) -> ConsoleError {
        match e {
            ApiError::NotFound(m) => ConsoleError::NotFound(m),
            e @ ApiError::Unauthorized => ConsoleError::Unauthorized(e.to_string()),
            ApiError::Forbidden(m) => ConsoleError::Forbidden(m),
            ApiError::Conflict(m) => ConsoleError::Conflict(m),
            ApiError::Unavailable(e) => ConsoleError::Unavailable(e),
            ApiError::Internal(e) => ConsoleError::Internal(e),
            other => ConsoleError::BadRequest(other.to_string()),
        }
    }
}

impl ResponseError for ConsoleError {
    fn status_code(&self) -> StatusCode {
        match self {
            ConsoleError::SignIn(_) => StatusCode::SEE_OTHER,
            ConsoleError::Forgery | ConsoleError::Forbidden(_) => StatusCode::FORBIDDEN,
            ConsoleError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ConsoleError::NotFound(_) => StatusCode::NOT_FOUND,
            ConsoleError::BadRequest(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ConsoleError::Conflict(_) => StatusCode::CONFLICT,
            ConsoleError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ConsoleError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            ConsoleError::Internal(e) => tracing::error!(error = %e, "console request failed"),
            ConsoleError::Unavailable(e) => tracing::warn!(error = %e, "database unavailable"),
            _ => {}
        }
        if let ConsoleError::SignIn(area) = self {
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, format!("{}/sign-in", area.base())))
                .finish();
        }
        // `headers::secure` puts the page around this, knowing the area.
        HttpResponse::build(self.status_code())
            .content_type("text/plain; charset=utf-8")
            .body(self.to_string())
    }
}

impl ConsoleError {
    /// The HTML page this error is shown as in `area`; `None` for a redirect.
    pub fn page(&self, area: Area, brand: &Brand) -> Option<String> {
        if matches!(self, ConsoleError::SignIn(_)) {
            return None;
        }
        Some(
            templates::error::page(area, brand, self.status_code(), &self.to_string())
                .into_string(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_apis_refusal_of_a_caller_keeps_its_status() {
        let status = |e: ApiError| ConsoleError::from(e).status_code();
        assert_eq!(status(ApiError::Unauthorized), StatusCode::UNAUTHORIZED);
        assert_eq!(
            status(ApiError::Forbidden("the operator's".into())),
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            status(ApiError::NotFound("no".into())),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            status(ApiError::invalid("url", "bad")),
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }
}
