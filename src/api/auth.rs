//! Who is calling: decided once per request, here, as a `Caller`, the
//! operator or one tenant; never again by a handler.
//!
//! The middleware reads the bearer token and stores the `Caller` in the
//! request. A handler takes `Operator` (a route only the operator may use: a
//! tenant gets 403) or `Caller` (a route a tenant may use too), and hands
//! `Caller::scope` to the store: every store function a tenant can reach takes
//! a `store::Scope` and puts it in its statement's WHERE, so a handler that
//! forgot a check would still read only the caller's tenant. Another tenant's
//! object is then simply not found: 404, as for a missing one.
//!
//! Tokens:
//! - `hrt_...` is a tenant token, looked up by its hash (one primary-key read),
//!   and the answer kept for two seconds (`token_cache`): a revocation or the
//!   tenant's deletion applies to the very next request in the process that
//!   made it, and within those seconds in every other process; an expiry
//!   within them too.
//!   It is honoured with or without `HOOKRELAY_API_TOKENS`: on a loopback
//!   hookrelay without operator tokens, a request that presents a tenant token
//!   acts as that tenant, never as the operator. Whoever holds one (a portal,
//!   a customer's script) sees what it would see in production, and a wrong
//!   one is a 401, not a silent promotion to operator.
//! - Any other token must be one of `HOOKRELAY_API_TOKENS` (compared in
//!   constant time): the operator. Without operator tokens (loopback only),
//!   every request that presents no tenant token is the operator's.
//!
//! A request whose token is refused counts against its address
//! (`throttle`): after 20 in a minute, the address gets 429 for the rest of
//! that minute, whatever token it presents.

use std::future::{ready, Ready};

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web::Data;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use subtle::ConstantTimeEq;

use super::{ApiError, AppState};
use crate::domain::{tenant_token, TenantKey, TENANT_TOKEN_PREFIX};
use crate::store::{tenants, Scope, StoreError};

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// An operator token, or no token on a loopback hookrelay without any.
    Operator,
    /// A tenant token: this tenant's objects only.
    Tenant(TenantKey),
}

impl Caller {
    /// What the caller may touch: every tenant, or its own.
    pub fn scope(&self) -> Scope<'_> {
        match self {
            Caller::Operator => Scope::Any,
            Caller::Tenant(key) => Scope::Tenant(key.as_str()),
        }
    }

    /// What a list shows: the operator's `?tenant=` narrows it; a tenant sees
    /// its own, and naming another tenant names nothing (404, as a tenant that
    /// does not exist would be for it).
    pub fn list_scope<'a>(
        &'a self,
        requested: Option<&'a TenantKey>,
    ) -> Result<Scope<'a>, ApiError> {
        match (self, requested) {
            (Caller::Operator, None) => Ok(Scope::Any),
            (Caller::Operator, Some(key)) => Ok(Scope::Tenant(key.as_str())),
            (Caller::Tenant(own), None) => Ok(Scope::Tenant(own.as_str())),
            (Caller::Tenant(own), Some(key)) if key == own => Ok(Scope::Tenant(own.as_str())),
            (Caller::Tenant(_), Some(key)) => Err(no_tenant(key.as_str())),
        }
    }

    /// The tenant a new object (a webhook) goes in: the one the body names,
    /// else the caller's own (`default` for the operator). A tenant naming
    /// another tenant gets the answer a tenant that does not exist gets.
    pub fn tenant_for_new(&self, named: Option<&str>) -> Result<TenantKey, ApiError> {
        let named = named
            .map(|k| TenantKey::parse(k).map_err(|e| ApiError::invalid("tenant", e)))
            .transpose()?;
        match (self, named) {
            (Caller::Operator, named) => Ok(named.unwrap_or_else(TenantKey::default_tenant)),
            (Caller::Tenant(own), None) => Ok(own.clone()),
            (Caller::Tenant(own), Some(key)) if key == *own => Ok(key),
            (Caller::Tenant(_), Some(key)) => Err(unknown_tenant_field(key.as_str())),
        }
    }

    /// The caller's own tenant, when a route about tenant `key` is one a
    /// tenant may use for itself (`GET /tenants/{own key}`): another key is
    /// not found.
    pub fn may_see_tenant(&self, key: &TenantKey) -> Result<(), ApiError> {
        match self {
            Caller::Tenant(own) if own != key => Err(no_tenant(key.as_str())),
            _ => Ok(()),
        }
    }
}

/// 404 for a tenant named in a path or a query.
pub fn no_tenant(key: &str) -> ApiError {
    let shown: String = key.chars().take(64).collect();
    ApiError::NotFound(format!("no tenant {shown:?}"))
}

/// 422 for a tenant named in a body that does not exist (or, for a tenant
/// token, is not its own: the same words, so the two cannot be told apart).
pub fn unknown_tenant_field(key: &str) -> ApiError {
    let shown: String = key.chars().take(64).collect();
    ApiError::invalid(
        "tenant",
        format!("no tenant {shown:?} (PUT /tenants/{{key}} creates one)"),
    )
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Caller, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // Set by `identify` on every guarded route; absent, nobody was identified.
        ready(
            req.extensions()
                .get::<Caller>()
                .cloned()
                .ok_or(ApiError::Unauthorized),
        )
    }
}

/// A handler argument for the routes only the operator may use: a tenant
/// token gets 403 before the handler runs.
pub struct Operator;

impl FromRequest for Operator {
    type Error = ApiError;
    type Future = Ready<Result<Operator, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(match req.extensions().get::<Caller>() {
            Some(Caller::Operator) => Ok(Operator),
            Some(Caller::Tenant(_)) => Err(ApiError::Forbidden(
                "this route is the operator's: a tenant token cannot use it".into(),
            )),
            None => Err(ApiError::Unauthorized),
        })
    }
}

/// The middleware in front of every route but /healthz and /readyz.
pub async fn identify(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let Some(state) = req.app_data::<Data<AppState>>().cloned() else {
        return Err(ApiError::Unauthorized.into());
    };
    let given = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token)
        .map(str::to_owned);
    let address = req.peer_addr().map(|a| a.ip());
    if let Some(wait) = state.auth_failures.refused(address) {
        return Err(ApiError::TooManyFailures(wait).into());
    }
    let caller = match caller(&state, given.as_deref()).await {
        Err(ApiError::Unauthorized) => {
            state.auth_failures.failed(address);
            return Err(ApiError::Unauthorized.into());
        }
        other => other?,
    };
    req.extensions_mut().insert(caller);
    next.call(req).await
}

async fn caller(state: &AppState, given: Option<&str>) -> Result<Caller, ApiError> {
    if let Some(token) = given.filter(|t| t.starts_with(TENANT_TOKEN_PREFIX)) {
        let hash = tenant_token::hash(token);
        let tenant = match state.tenant_tokens.get(&hash) {
            Some(remembered) => remembered,
            None => {
                let found = tenants::token_hash_tenant(&state.db().await?, &hash).await?;
                state.tenant_tokens.put(hash, found.clone());
                found
            }
        };
        let key = tenant.ok_or(ApiError::Unauthorized)?;
        let key = TenantKey::parse(&key).map_err(|e| {
            ApiError::Internal(StoreError::Inconsistent(format!(
                "a stored tenant key: {e}"
            )))
        })?;
        return Ok(Caller::Tenant(key));
    }
    if state.config.api_tokens.is_empty() {
        return Ok(Caller::Operator);
    }
    let given = given.unwrap_or("");
    // Check every token, whatever matched, so timing says nothing about which.
    let known: bool = state
        .config
        .api_tokens
        .iter()
        .fold(subtle::Choice::from(0), |acc, t| {
            acc | t.as_bytes().ct_eq(given.as_bytes())
        })
        .into();
    if known {
        Ok(Caller::Operator)
    } else {
        Err(ApiError::Unauthorized)
    }
}

/// The token of `Bearer <token>`. The scheme is case-insensitive (RFC 9110
/// §11.1), so `bearer` and `BEARER` are the same; blanks around the token are not part of it.
fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}
