//! The LISTEN side: one connection that hears of new work from other
//! processes (the API's debounced NOTIFY, `wakeup.rs`) and of changed
//! webhooks (trigger webhooks_announce), which it passes to the send-target
//! cache so that an attempt starting after a change sees it.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::poll_fn;
use tokio_postgres::{AsyncMessage, NoTls};
use uuid::Uuid;

use super::{Backoff, Shared};
use crate::store::StoreError;

/// Keeps a LISTEN connection open, reconnecting after failures. While it is
/// down, the targets cache knows nothing (every attempt reads its webhook).
pub(super) async fn run(shared: Arc<Shared>) {
    let mut backoff = Backoff(0);
    loop {
        let started = tokio::time::Instant::now();
        if let Err(e) = listen_once(&shared).await {
            tracing::debug!(error = %e, "LISTEN connection lost");
        }
        shared.targets.listening(false);
        if started.elapsed() > Duration::from_secs(10) {
            backoff = Backoff(0);
        }
        tokio::time::sleep(backoff.next()).await;
    }
}

async fn listen_once(shared: &Shared) -> Result<(), StoreError> {
    let url = shared.config.database_url.clone().unwrap_or_default();
    let (client, mut connection) = crate::store::pg_config(&url)?.connect(NoTls).await?;
    let wake = &shared.wake;
    let drive = async {
        while let Some(message) = poll_fn(|cx| connection.poll_message(cx)).await {
            let AsyncMessage::Notification(n) = message? else {
                continue;
            };
            if n.channel() == "hookrelay_webhooks" {
                // "<id> <version>", from trigger webhooks_announce.
                let mut parts = n.payload().split(' ');
                let id = parts.next().and_then(|p| Uuid::parse_str(p).ok());
                let version = parts.next().and_then(|p| p.parse::<i64>().ok());
                match id.zip(version) {
                    Some((id, version)) => shared.targets.announce(id, version),
                    // Not ours to read: forget everything rather than miss a change.
                    None => shared.targets.listening(true),
                }
            } else {
                wake.notify_one();
            }
        }
        Ok::<(), StoreError>(())
    };
    let subscribe = async {
        client.batch_execute(crate::sql::LISTEN).await?;
        // Changes made while nobody listened are read afresh from here on.
        shared.targets.listening(true);
        // Anything that arrived while we were not listening is found by this wake-up.
        wake.notify_one();
        std::future::pending::<Result<(), StoreError>>().await
    };
    tokio::select! {
        r = drive => r,
        r = subscribe => r,
    }
}
