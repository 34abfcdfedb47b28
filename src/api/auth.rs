//! Bearer tokens (`HOOKRELAY_API_TOKENS`), compared in constant time.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web::Data;
use subtle::ConstantTimeEq;

use super::{ApiError, AppState};

pub async fn require_token(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let allowed = match req.app_data::<Data<AppState>>() {
        Some(state) if !state.config.api_tokens.is_empty() => {
            let given = req
                .headers()
                .get(actix_web::http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(bearer_token)
                .unwrap_or("");
            // Check every token, whatever matched, so timing says nothing about which.
            state
                .config
                .api_tokens
                .iter()
                .fold(subtle::Choice::from(0), |acc, t| {
                    acc | t.as_bytes().ct_eq(given.as_bytes())
                })
                .into()
        }
        _ => true,
    };
    if !allowed {
        return Err(ApiError::Unauthorized.into());
    }
    next.call(req).await
}

/// The token of `Bearer <token>`. The scheme is case-insensitive (RFC 9110
/// §11.1), so `bearer` and `BEARER` are the same; blanks around the token are not part of it.
fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}
