//! The console's sessions (`console_sessions`): opened at sign-in, found on
//! every page, closed at sign-out. Callers pass the SHA-256 of the cookie's
//! value; the value itself never reaches the database.

use std::time::Duration;

use super::{Client, StoreError};
use crate::sql;

/// A session as a page sees it: whom it is for, and the token it came from.
#[derive(Debug, Clone)]
pub struct Session {
    /// `None`: the operator.
    pub tenant: Option<String>,
    /// SHA-256 of the token it was opened with; `None` when none was needed.
    pub token_hash: Option<Vec<u8>>,
}

/// What a new session is opened with.
pub struct NewSession<'a> {
    pub id_hash: &'a [u8],
    pub tenant: Option<&'a str>,
    pub token_hash: Option<&'a [u8]>,
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Opens a session, sweeping those idle for longer than `idle` on the way.
pub async fn open(client: &Client, new: &NewSession<'_>, idle: Duration) -> Result<(), StoreError> {
    let stmt = client.prepare_cached(sql::CONSOLE_SESSION_OPEN).await?;
    client
        .execute(
            &stmt,
            &[&new.id_hash, &new.tenant, &new.token_hash, &millis(idle)],
        )
        .await?;
    Ok(())
}

/// The live session named by `id_hash`: not idle for longer than `idle`, and
/// for a tenant, its token still good.
pub async fn find(
    client: &Client,
    id_hash: &[u8],
    idle: Duration,
) -> Result<Option<Session>, StoreError> {
    let stmt = client.prepare_cached(sql::CONSOLE_SESSION_FIND).await?;
    Ok(client
        .query_opt(&stmt, &[&id_hash, &millis(idle)])
        .await?
        .map(|row| Session {
            tenant: row.get("tenant"),
            token_hash: row.get("token_hash"),
        }))
}

pub async fn close(client: &Client, id_hash: &[u8]) -> Result<(), StoreError> {
    let stmt = client.prepare_cached(sql::CONSOLE_SESSION_CLOSE).await?;
    client.execute(&stmt, &[&id_hash]).await?;
    Ok(())
}
