//! Handing claims back: expired leases (a worker died) and, at shutdown, the
//! claims this process will not finish.

use uuid::Uuid;

use crate::sql;
use crate::store::{Client, StoreError};

/// Returns expired claims to the queue (or to `failed` when that attempt spent
/// the budget of `max_attempts`); returns how many were rescued.
pub async fn rescue_expired(client: &Client, max_attempts: i32) -> Result<u64, StoreError> {
    let stmt = client.prepare_cached(sql::RESCUE_EXPIRED).await?;
    Ok(client.query(&stmt, &[&max_attempts]).await?.len() as u64)
}

/// Hands back claims that were never finished, uncounted and due now.
pub async fn release(client: &Client, claims: &[(Uuid, i32)]) -> Result<u64, StoreError> {
    if claims.is_empty() {
        return Ok(0);
    }
    let stmt = client.prepare_cached(sql::RELEASE_CLAIMS).await?;
    let ids: Vec<Uuid> = claims.iter().map(|c| c.0).collect();
    let attempts: Vec<i32> = claims.iter().map(|c| c.1).collect();
    Ok(client.execute(&stmt, &[&ids, &attempts]).await?)
}
