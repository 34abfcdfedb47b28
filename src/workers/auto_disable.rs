//! Auto-disable: a webhook whose attempts have all failed for
//! `HOOKRELAY_AUTO_DISABLE_AFTER`, at least ten of them, is disabled as
//! `PATCH enabled=false` would, its pending deliveries held, with a
//! `disabled_reason` and a `hookrelay.webhook.disabled` event.
//!
//! The completer keeps each webhook's run of failures on its row
//! (`queue::failing`), so the check is one look at an index of the webhooks in
//! a run, however long their history: every tenth of the window (between
//! 100 ms and a minute), in every process that runs workers. Two processes
//! checking at once disable a webhook once: the second finds it disabled
//! under the row lock (sql/webhook_auto_disable.sql).

use std::sync::Arc;
use std::time::Duration;

use super::Shared;
use crate::queue::failing::ENOUGH_ATTEMPTS;
use crate::store::webhooks;

pub(super) async fn run(shared: Arc<Shared>) {
    let after = shared.config.auto_disable_after;
    if after.is_zero() {
        return;
    }
    let every = (after / 10).clamp(Duration::from_millis(100), Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shared.stop_claiming.cancelled() => return,
        }
        let disabled = async {
            let mut client = shared.pool.get().await?;
            webhooks::auto_disable(&mut client, after, ENOUGH_ATTEMPTS).await
        }
        .await;
        match disabled {
            Ok(disabled) => {
                for (id, version) in &disabled {
                    // Claims of it waiting for a worker come back held now.
                    shared.targets.announce(*id, *version);
                    tracing::warn!(webhook_id = %id, after = %humantime::format_duration(after), "every attempt failed for too long; webhook disabled");
                }
                if !disabled.is_empty() {
                    // Its hookrelay.webhook.disabled event may have deliveries.
                    shared.wake.notify_one();
                }
            }
            Err(e) => tracing::warn!(error = %e, "auto-disable could not check the webhooks"),
        }
    }
}
