//! A tenant's tokens: an API token, or a portal link's. Tenant `default` gets
//! neither: it is the operator's, and holds hookrelay's notices about every
//! tenant, so whoever acted as it would read every customer's.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::ServiceError;
use crate::api::AppState;
use crate::domain::TenantKey;
use crate::store::tenants::{self, TokenKind};

/// How long a token or portal link lasts unless told.
pub const DEFAULT_TTL: Duration = Duration::from_secs(3600);

/// A new token of `kind` for the tenant; returns it (shown once: only its
/// hash is kept) and when it expires.
pub async fn issue_token(
    state: &AppState,
    key: &TenantKey,
    kind: TokenKind,
    ttl: Duration,
) -> Result<(String, DateTime<Utc>), ServiceError> {
    if key.is_default() {
        return Err(ServiceError::Conflict(
            "the tenant default is the operator's and gets no tenant tokens or portal links: use an operator token, or make a tenant of its own (PUT /tenants/{key})".into(),
        ));
    }
    let (token, expires_at) = tenants::issue_token(&state.db().await?, key.as_str(), kind, ttl)
        .await?
        .ok_or_else(|| {
            let shown: String = key.as_str().chars().take(64).collect();
            ServiceError::NotFound(format!("no tenant {shown:?}"))
        })?;
    Ok((token.expose().to_owned(), expires_at))
}

/// Where a portal token signs in: `<public URL>/portal#<token>`, the token in
/// the fragment, which browsers never send to a server.
pub fn portal_url(state: &AppState, token: &str) -> String {
    format!("{}/portal#{token}", state.public_url)
}
