//! Handing claims back: expired leases (a worker died) and, at shutdown, the
//! claims this process will not finish.

use uuid::Uuid;

use crate::sql;
use crate::store::{operational, Client, StoreError};

/// Returns expired claims to the queue (or to `failed` when that attempt spent
/// the budget of `max_attempts`, with its dead-lettered event, in the same
/// transaction); returns how many were rescued.
pub async fn rescue_expired(client: &mut Client, max_attempts: i32) -> Result<u64, StoreError> {
    let tx = client.transaction().await?;
    let stmt = tx.prepare_cached(sql::RESCUE_EXPIRED).await?;
    let rows = tx.query(&stmt, &[&max_attempts]).await?;
    let failed: Vec<Uuid> = rows
        .iter()
        .filter(|r| r.get::<_, bool>("failed"))
        .map(|r| r.get("id"))
        .collect();
    operational::dead_lettered(&tx, &failed).await?;
    let ordered: Vec<Uuid> = rows
        .iter()
        .filter(|r| r.get::<_, bool>("failed") && r.get::<_, bool>("ordered"))
        .map(|r| r.get("id"))
        .collect();
    super::complete::ordering_next(&tx, &ordered).await?;
    tx.commit().await?;
    Ok(rows.len() as u64)
}

/// A claim handed back unsent.
#[derive(Debug, Clone, Copy)]
pub struct Release {
    pub id: Uuid,
    pub attempt: i32,
    /// Its webhook was found disabled: hold it with the webhook's other deliveries.
    pub hold: bool,
}

/// Hands back claims that were never sent, uncounted and due now.
pub async fn release(client: &Client, claims: &[Release]) -> Result<u64, StoreError> {
    if claims.is_empty() {
        return Ok(0);
    }
    let mut claims = claims.to_vec();
    // Locks in id order, as every statement that locks many deliveries does.
    claims.sort_unstable_by_key(|c| c.id);
    let stmt = client.prepare_cached(sql::RELEASE_CLAIMS).await?;
    let ids: Vec<Uuid> = claims.iter().map(|c| c.id).collect();
    let attempts: Vec<i32> = claims.iter().map(|c| c.attempt).collect();
    let hold: Vec<bool> = claims.iter().map(|c| c.hold).collect();
    Ok(client.execute(&stmt, &[&ids, &attempts, &hold]).await?)
}

/// The safety net of `held` (sql/reconcile_held.sql): releases pending rows
/// held under an enabled webhook; returns how many it found.
pub async fn reconcile_held(client: &Client) -> Result<u64, StoreError> {
    let stmt = client.prepare_cached(sql::RECONCILE_HELD).await?;
    Ok(client.execute(&stmt, &[]).await?)
}
