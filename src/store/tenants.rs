//! The tenants table and tenant tokens.
//!
//! Deleting a tenant is deleting each of its webhooks the way
//! `DELETE /webhooks/{id}` does (tombstone, deliveries held, in one
//! transaction with the tenant's own tombstone), so the API can then wait for
//! sends under way exactly as it does for one webhook; the rows go in the
//! background (`retention::purge_deleted_tenants`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use tokio_postgres::types::Json;
use tokio_postgres::Row;
use uuid::Uuid;

use super::{retry_transient, transient, Client, Page, StoreError};
use crate::domain::{tenant_token, TenantKey, TenantToken};
use crate::sql;

/// A tenant as every read shows it.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
pub struct Tenant {
    /// The operator's own key for the tenant: 1-64 characters of A-Z a-z 0-9 . _ : -.
    pub key: String,
    #[schema(required = true)]
    pub name: Option<String>,
    /// The operator's own JSON object, at most 4096 bytes as compact JSON.
    #[schema(value_type = crate::api::schema::Metadata)]
    pub metadata: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Tenant {
    fn from_row(row: &Row) -> Tenant {
        Tenant {
            key: row.get("key"),
            name: row.get("name"),
            metadata: row.get("metadata"),
            created_at: row.get("created_at"),
            updated_at: row.get("updated_at"),
        }
    }
}

/// What a PUT sets: `None` keeps the field (or takes its default, for a new
/// tenant); `Some(None)` clears it.
#[derive(Default)]
pub struct TenantChanges {
    pub name: Option<Option<String>>,
    pub metadata: Option<Option<Value>>,
}

pub enum Put {
    Created(Tenant),
    Updated(Tenant),
    /// The key names a tenant still being deleted.
    BeingDeleted,
}

pub async fn put(
    client: &Client,
    key: &TenantKey,
    changes: &TenantChanges,
) -> Result<Put, StoreError> {
    let stmt = client.prepare_cached(sql::TENANT_PUT).await?;
    let name = changes.name.clone().flatten();
    let metadata = changes.metadata.clone().flatten().map(Json);
    let row = client
        .query_opt(
            &stmt,
            &[
                &key.as_str(),
                &changes.name.is_some(),
                &name,
                &changes.metadata.is_some(),
                &metadata,
            ],
        )
        .await?;
    Ok(match row {
        None => Put::BeingDeleted,
        Some(row) if row.get::<_, bool>("created") => Put::Created(Tenant::from_row(&row)),
        Some(row) => Put::Updated(Tenant::from_row(&row)),
    })
}

pub async fn get(client: &Client, key: &str) -> Result<Option<Tenant>, StoreError> {
    let stmt = client.prepare_cached(sql::TENANT_GET).await?;
    Ok(client
        .query_opt(&stmt, &[&key])
        .await?
        .as_ref()
        .map(Tenant::from_row))
}

pub async fn list(client: &Client, page: &Page<String>) -> Result<Vec<Tenant>, StoreError> {
    let stmt = client.prepare_cached(sql::TENANT_LIST).await?;
    let (before_time, before_key) = page.before();
    let rows = client
        .query(&stmt, &[&before_time, &before_key, &page.fetch()])
        .await?;
    Ok(rows.iter().map(Tenant::from_row).collect())
}

/// Deletes a tenant: it and every webhook of it become tombstones, and the
/// webhooks' unfinished deliveries are held, in one transaction. Returns each
/// webhook deleted and its final version (to announce, and to wait for), or
/// `None` when there is no such tenant. `default` is never deleted (`None`
/// too: the caller refuses it before asking).
pub async fn delete(
    client: &mut Client,
    key: &TenantKey,
) -> Result<Option<Vec<(Uuid, i64)>>, StoreError> {
    let mut tries = 0;
    loop {
        match delete_once(client, key).await {
            Err(e) if transient(&e, &mut tries).await => continue,
            done => return done,
        }
    }
}

async fn delete_once(
    client: &mut Client,
    key: &TenantKey,
) -> Result<Option<Vec<(Uuid, i64)>>, StoreError> {
    let tx = client.transaction().await?;
    let tenant = tx.prepare_cached(sql::TENANT_DELETE).await?;
    if tx.query_opt(&tenant, &[&key.as_str()]).await?.is_none() {
        return Ok(None);
    }
    let webhooks = tx.prepare_cached(sql::TENANT_DELETE_WEBHOOKS).await?;
    let deleted: Vec<(Uuid, i64)> = tx
        .query(&webhooks, &[&key.as_str()])
        .await?
        .iter()
        .map(|r| (r.get("id"), r.get("version")))
        .collect();
    // The hold of DELETE /webhooks/{id}, for each: a tenant has few webhooks,
    // and each statement reads only that webhook's unfinished deliveries.
    let hold = tx.prepare_cached(sql::WEBHOOK_HOLD).await?;
    for (id, _) in &deleted {
        tx.execute(&hold, &[id, &true]).await?;
    }
    tx.commit().await?;
    Ok(Some(deleted))
}

/// Who a token is for: `api` tokens (`POST /tenants/{key}/tokens`) and
/// `portal` links' tokens grant the same; the kind says where one came from.
#[derive(Debug, Clone, Copy)]
pub enum TokenKind {
    Api,
    Portal,
}

impl TokenKind {
    fn as_str(self) -> &'static str {
        match self {
            TokenKind::Api => "api",
            TokenKind::Portal => "portal",
        }
    }
}

/// Makes a token for the tenant, valid for `ttl`; `None` when there is no
/// such tenant. The token's text is in the answer and nowhere else.
pub async fn issue_token(
    client: &Client,
    key: &str,
    kind: TokenKind,
    ttl: Duration,
) -> Result<Option<(TenantToken, DateTime<Utc>)>, StoreError> {
    let stmt = client.prepare_cached(sql::TENANT_TOKEN_INSERT).await?;
    let token = TenantToken::generate();
    let hash = token.hash();
    let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
    let row = client
        .query_opt(&stmt, &[&&hash[..], &key, &kind.as_str(), &ttl_ms])
        .await?;
    Ok(row.map(|r| (token, r.get("expires_at"))))
}

/// Revokes every token of the tenant; `None` when there is no such tenant.
pub async fn revoke_tokens(client: &Client, key: &str) -> Result<Option<u64>, StoreError> {
    let stmt = client.prepare_cached(sql::TENANT_TOKENS_REVOKE).await?;
    let stmt = &stmt;
    let row = retry_transient(|| async move { client.query_one(stmt, &[&key]).await }).await?;
    let found: i64 = row.get("found");
    let revoked: i64 = row.get("revoked");
    Ok((found > 0).then(|| u64::try_from(revoked).unwrap_or(0)))
}

/// The tenant a presented token acts as: `None` for an unknown, expired or
/// revoked token, or one whose tenant was deleted.
pub async fn token_tenant(client: &Client, presented: &str) -> Result<Option<String>, StoreError> {
    token_hash_tenant(client, &tenant_token::hash(presented)).await
}

/// `token_tenant` for the token whose SHA-256 is `hash`.
pub async fn token_hash_tenant(
    client: &Client,
    hash: &[u8; 32],
) -> Result<Option<String>, StoreError> {
    let stmt = client.prepare_cached(sql::TENANT_TOKEN_LOOKUP).await?;
    Ok(client
        .query_opt(&stmt, &[&&hash[..]])
        .await?
        .map(|r| r.get("tenant")))
}
