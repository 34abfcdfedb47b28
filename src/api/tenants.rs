//! `/tenants`: the operator's customers, their tokens and portal links.
//!
//! Everything here is the operator's, except `GET /tenants/{key}`, which a
//! tenant token may call for its own key. `DELETE /tenants/{key}` is
//! `DELETE /webhooks/{id}` for each of the tenant's webhooks, in one
//! transaction, followed by the same wait: once it answers, nothing more is
//! sent to any of them.

use std::time::Duration;

use actix_web::web::{Data, Path, Payload};
use actix_web::{HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::auth::{no_tenant, Caller, Operator};
use super::body::{parse, read_optional_json_body};
use super::pagination::{Paginated, Query};
use super::problem::Problem;
use super::webhooks::present;
use super::{ApiError, AppState};
use crate::domain::TenantKey;
use crate::service;
use crate::store::tenants::{self, Put, Tenant, TenantChanges, TokenKind};
use crate::store::{webhooks, StoreError};

/// Largest metadata object, in bytes written as compact JSON (no spaces, as
/// serde writes it): the one size rule, checked here, before the database
/// (whose CHECK is looser: migration 0016).
const MAX_METADATA: usize = 4096;
/// Longest tenant name, in characters.
const MAX_NAME: usize = 256;
/// A token's life when the request names none, and the longest it may ask for.
const MAX_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

#[derive(utoipa::ToSchema, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PutTenant {
    /// At most 256 characters. Absent: unchanged (none, for a new tenant); null: cleared.
    #[serde(default, deserialize_with = "present")]
    name: Option<Option<String>>,
    /// A JSON object of at most 4096 bytes written as compact JSON (no
    /// spaces). Absent: unchanged ({} for a new tenant); null: {}.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<super::schema::Metadata>)]
    metadata: Option<Option<Value>>,
}

#[derive(utoipa::ToSchema, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct IssueToken {
    /// How long the token lasts, like `15m`, `1h`, `7d`; default `1h`, at most `30d`.
    ttl: Option<String>,
}

/// A new tenant token: shown in this answer only.
#[derive(utoipa::ToSchema, Serialize)]
pub struct IssuedToken {
    /// `hrt_...`: send it as `Authorization: Bearer <token>`.
    token: String,
    expires_at: DateTime<Utc>,
}

/// A portal link: the console for this tenant alone.
#[derive(utoipa::ToSchema, Serialize)]
pub struct PortalLink {
    /// `<HOOKRELAY_PUBLIC_URL>/portal#<token>`: the token travels in the
    /// fragment, which browsers never send to servers or logs.
    #[schema(format = "uri")]
    url: String,
    token: String,
    expires_at: DateTime<Utc>,
}

#[derive(utoipa::ToSchema, Serialize)]
pub struct Revoked {
    /// How many tokens (portal links' included) stopped working.
    revoked: u64,
}

/// A path's `{key}` that is not a tenant key names nothing: 404.
fn named(raw: &str) -> Result<TenantKey, ApiError> {
    TenantKey::parse(raw).map_err(|_| no_tenant(raw))
}

fn parse_name(raw: Option<Option<String>>) -> Result<Option<Option<String>>, ApiError> {
    let check = |n: String| {
        if n.chars().count() > MAX_NAME {
            return Err(ApiError::invalid(
                "name",
                format!("must be at most {MAX_NAME} characters"),
            ));
        }
        if n.contains('\0') {
            return Err(ApiError::invalid("name", "must not contain NUL characters"));
        }
        Ok(n)
    };
    raw.map(|n| n.map(check).transpose()).transpose()
}

fn parse_metadata(raw: Option<Option<Value>>) -> Result<Option<Option<Value>>, ApiError> {
    let check = |m: Value| {
        if !m.is_object() {
            return Err(ApiError::invalid("metadata", "must be a JSON object"));
        }
        let size = m.to_string().len();
        if size > MAX_METADATA {
            return Err(ApiError::invalid(
                "metadata",
                format!(
                    "must be at most {MAX_METADATA} bytes written as compact JSON (no spaces), got {size}"
                ),
            ));
        }
        Ok(m)
    };
    raw.map(|m| m.map(check).transpose()).transpose()
}

fn parse_ttl(raw: Option<&str>) -> Result<Duration, ApiError> {
    let Some(raw) = raw else {
        return Ok(service::tenants::DEFAULT_TTL);
    };
    let ttl = crate::config::parse_duration(raw).map_err(|e| ApiError::invalid("ttl", e))?;
    if ttl.is_zero() || ttl > MAX_TTL {
        return Err(ApiError::invalid(
            "ttl",
            format!("must be more than zero and at most 30d, got {raw:?}"),
        ));
    }
    Ok(ttl)
}

/// Postgres' jsonb refuses some JSON serde takes (`\u0000`, a lone surrogate):
/// that is the metadata at fault, a 422.
fn metadata_refused(e: StoreError) -> ApiError {
    match e.code() {
        Some(code) if code.starts_with("22") => ApiError::invalid(
            "metadata",
            "holds a value PostgreSQL cannot store (such as \\u0000 or a lone surrogate like \\ud800)",
        ),
        _ => e.into(),
    }
}

#[utoipa::path(
    put,
    path = "/tenants/{key}",
    operation_id = "put_tenant",
    tag = "tenants",
    summary = "Create a tenant, or change its name or metadata; fields left out keep their values",
    params(("key" = String, Path, description = "The operator's key for the tenant: 1-64 characters of A-Z a-z 0-9 . _ : -")),
    request_body(content = Option<PutTenant>, description = "Optional; without it a new tenant has no name and {} as metadata"),
    responses((status = 201, description = "Created", body = Tenant), (status = 200, description = "Changed", body = Tenant), (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"), (status = 403, description = "A tenant token: tenants are the operator's", body = Problem, content_type = "application/problem+json"), (status = 409, description = "A tenant of this key is still being deleted", body = Problem, content_type = "application/problem+json"), (status = 413, description = "Body over HOOKRELAY_MAX_PAYLOAD", body = Problem, content_type = "application/problem+json"), (status = 415, description = "A body that is not application/json", body = Problem, content_type = "application/problem+json"), (status = 422, description = "Invalid key, name or metadata, named in detail", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"), (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"))
)]
pub async fn put(
    state: Data<AppState>,
    _: Operator,
    key: Path<String>,
    req: HttpRequest,
    payload: Payload,
) -> Result<HttpResponse, ApiError> {
    let key = TenantKey::parse(&key).map_err(|e| ApiError::invalid("key", e))?;
    let body = read_optional_json_body(&req, payload, state.config.max_payload).await?;
    let input: PutTenant = match &body {
        Some(body) => parse(body)?,
        None => PutTenant::default(),
    };
    let changes = TenantChanges {
        name: parse_name(input.name)?,
        metadata: parse_metadata(input.metadata)?,
    };
    match tenants::put(&state.db().await?, &key, &changes)
        .await
        .map_err(metadata_refused)?
    {
        Put::Created(tenant) => Ok(HttpResponse::Created()
            .insert_header(("Location", format!("/tenants/{key}")))
            .json(tenant)),
        Put::Updated(tenant) => Ok(HttpResponse::Ok().json(tenant)),
        Put::BeingDeleted => Err(ApiError::Conflict(format!(
            "tenant {key:?} is still being deleted; try again once its rows are gone (seconds, usually)"
        ))),
    }
}

#[utoipa::path(
    get,
    path = "/tenants",
    operation_id = "list_tenants",
    tag = "tenants",
    summary = "List tenants, newest first",
    params(("limit" = Option<i64>, Query, description = "1 to 500, default 50", minimum = 1, maximum = 500), ("cursor" = Option<String>, Query, description = "next_cursor of the previous page")),
    responses((status = 200, body = super::schema::TenantPage), (status = 403, description = "A tenant token: tenants are the operator's", body = Problem, content_type = "application/problem+json"), (status = 422, description = "Bad limit or cursor", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"), (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"))
)]
pub async fn list(
    state: Data<AppState>,
    _: Operator,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let page = Query::parse(req.query_string())?.page_by::<String>()?;
    let rows = tenants::list(&state.db().await?, &page).await?;
    Ok(HttpResponse::Ok().json(Paginated::new(rows, page, |t| {
        (t.created_at, t.key.clone())
    })))
}

#[utoipa::path(
    get,
    path = "/tenants/{key}",
    operation_id = "get_tenant",
    tag = "tenants",
    summary = "Read a tenant (a tenant token: its own)",
    params(("key" = String, Path, description = "The tenant's key")),
    responses((status = 200, body = Tenant), (status = 404, description = "No such tenant, or another tenant's", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"), (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"))
)]
pub async fn get(
    state: Data<AppState>,
    caller: Caller,
    key: Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key = named(&key)?;
    caller.may_see_tenant(&key)?;
    let tenant = tenants::get(&state.db().await?, key.as_str())
        .await?
        .ok_or_else(|| no_tenant(key.as_str()))?;
    Ok(HttpResponse::Ok().json(tenant))
}

#[utoipa::path(
    delete,
    path = "/tenants/{key}",
    operation_id = "delete_tenant",
    tag = "tenants",
    summary = "Delete a tenant and its webhooks; nothing is sent to them once this returns",
    params(("key" = String, Path, description = "The tenant's key")),
    responses((status = 204, description = "Deleted"), (status = 403, description = "A tenant token: tenants are the operator's", body = Problem, content_type = "application/problem+json"), (status = 404, description = "No such tenant", body = Problem, content_type = "application/problem+json"), (status = 409, description = "The tenant default cannot be deleted", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"), (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"))
)]
pub async fn delete(
    state: Data<AppState>,
    _: Operator,
    key: Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key = named(&key)?;
    if key.is_default() {
        return Err(ApiError::Conflict(
            "the tenant default cannot be deleted: what names no tenant belongs to it".into(),
        ));
    }
    let deleted = tenants::delete(&mut state.db().await?, &key)
        .await?
        .ok_or_else(|| no_tenant(key.as_str()))?;
    state.tenant_tokens.forget_tenant(key.as_str());
    // As DELETE /webhooks/{id} does, for each webhook: no attempt starts here
    // from now on, other processes hear it by NOTIFY, and attempts under way
    // finish (or are handed back) within one lease before this returns.
    for (id, version) in &deleted {
        state.targets.announce(*id, *version);
    }
    let deadline = tokio::time::Instant::now() + state.config.lease + Duration::from_secs(1);
    for (id, _) in &deleted {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        webhooks::wait_until_idle(&state.pool, *id, left).await?;
    }
    // Its rows go in the background; the retention sweep finishes the job if
    // this process stops first.
    let pool = state.pool.clone();
    tokio::spawn(async move {
        let purged =
            async { crate::retention::purge_deleted_tenants(&pool.get().await?).await }.await;
        if let Err(e) = purged {
            tracing::warn!(error = %e, "could not purge a deleted tenant yet; the retention sweep will");
        }
    });
    Ok(HttpResponse::NoContent().finish())
}

async fn issue(
    state: &AppState,
    key: &str,
    req: &HttpRequest,
    payload: Payload,
    kind: TokenKind,
) -> Result<(String, DateTime<Utc>), ApiError> {
    let key = named(key)?;
    let body = read_optional_json_body(req, payload, state.config.max_payload).await?;
    let input: IssueToken = match &body {
        Some(body) => parse(body)?,
        None => IssueToken::default(),
    };
    let ttl = parse_ttl(input.ttl.as_deref())?;
    Ok(service::tenants::issue_token(state, &key, kind, ttl).await?)
}

#[utoipa::path(
    post,
    path = "/tenants/{key}/tokens",
    operation_id = "create_tenant_token",
    tag = "tenants",
    summary = "Make a token that acts as this tenant; shown once",
    params(("key" = String, Path, description = "The tenant's key")),
    request_body(content = Option<IssueToken>, description = "Optional; without it the token lasts 1h"),
    responses((status = 201, description = "Made; the token is in this answer only", body = IssuedToken), (status = 403, description = "A tenant token: tokens are the operator's to make", body = Problem, content_type = "application/problem+json"), (status = 404, description = "No such tenant", body = Problem, content_type = "application/problem+json"), (status = 409, description = "The tenant default: it is the operator's", body = Problem, content_type = "application/problem+json"), (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"), (status = 413, description = "Body over HOOKRELAY_MAX_PAYLOAD", body = Problem, content_type = "application/problem+json"), (status = 415, description = "A body that is not application/json", body = Problem, content_type = "application/problem+json"), (status = 422, description = "Invalid ttl", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"), (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"))
)]
pub async fn create_token(
    state: Data<AppState>,
    _: Operator,
    key: Path<String>,
    req: HttpRequest,
    payload: Payload,
) -> Result<HttpResponse, ApiError> {
    let (token, expires_at) = issue(&state, &key, &req, payload, TokenKind::Api).await?;
    Ok(HttpResponse::Created().json(IssuedToken { token, expires_at }))
}

#[utoipa::path(
    delete,
    path = "/tenants/{key}/tokens",
    operation_id = "revoke_tenant_tokens",
    tag = "tenants",
    summary = "Revoke every token of this tenant, portal links' included",
    params(("key" = String, Path, description = "The tenant's key")),
    responses((status = 200, description = "Revoked; the next request with any of them gets 401", body = Revoked), (status = 403, description = "A tenant token: tokens are the operator's", body = Problem, content_type = "application/problem+json"), (status = 404, description = "No such tenant", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"), (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"))
)]
pub async fn revoke_tokens(
    state: Data<AppState>,
    _: Operator,
    key: Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key = named(&key)?;
    let revoked = tenants::revoke_tokens(&state.db().await?, key.as_str())
        .await?
        .ok_or_else(|| no_tenant(key.as_str()))?;
    // Before answering: the next request here with any of them gets 401.
    state.tenant_tokens.forget_tenant(key.as_str());
    Ok(HttpResponse::Ok().json(Revoked { revoked }))
}

#[utoipa::path(
    post,
    path = "/tenants/{key}/portal",
    operation_id = "create_portal_link",
    tag = "tenants",
    summary = "Make a portal link: the console for this tenant alone",
    params(("key" = String, Path, description = "The tenant's key")),
    request_body(content = Option<IssueToken>, description = "Optional; without it the link lasts 1h"),
    responses((status = 201, description = "Made; its token is a tenant token, in this answer only", body = PortalLink), (status = 403, description = "A tenant token: portal links are the operator's to make", body = Problem, content_type = "application/problem+json"), (status = 404, description = "No such tenant", body = Problem, content_type = "application/problem+json"), (status = 409, description = "The tenant default: it is the operator's", body = Problem, content_type = "application/problem+json"), (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"), (status = 413, description = "Body over HOOKRELAY_MAX_PAYLOAD", body = Problem, content_type = "application/problem+json"), (status = 415, description = "A body that is not application/json", body = Problem, content_type = "application/problem+json"), (status = 422, description = "Invalid ttl", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"), (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"))
)]
pub async fn portal_link(
    state: Data<AppState>,
    _: Operator,
    key: Path<String>,
    req: HttpRequest,
    payload: Payload,
) -> Result<HttpResponse, ApiError> {
    let (token, expires_at) = issue(&state, &key, &req, payload, TokenKind::Portal).await?;
    Ok(HttpResponse::Created().json(PortalLink {
        url: service::tenants::portal_url(&state, &token),
        token,
        expires_at,
    }))
}
