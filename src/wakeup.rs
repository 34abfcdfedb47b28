//! Waking the delivery workers when new work is due, here and in other processes.
//!
//! In this process, a `Notify` wakes the worker pool at once. Other processes
//! sharing the database hear `NOTIFY hookrelay_deliveries`, sent by a small task
//! at most once per `DEBOUNCE`, on its own, outside any ingest transaction. A
//! NOTIFY inside the ingest transaction would take Postgres' global notify lock
//! until the commit is on disk, serializing every ingest behind one fsync at a
//! time (measured: ingest stuck near 1,500 events/s with the CPU mostly idle).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::sql;
use crate::store::Pool;

/// Longest a NOTIFY to other processes waits, gathering more news.
const DEBOUNCE: Duration = Duration::from_millis(5);

#[derive(Clone, Default)]
pub struct Wakeup {
    local: Arc<Notify>,
    remote: Arc<Notify>,
}

impl Wakeup {
    /// Deliveries were created or became due now.
    pub fn new_work(&self) {
        self.local.notify_one();
        self.remote.notify_one();
    }

    /// What this process's workers wait on.
    pub fn local(&self) -> Arc<Notify> {
        self.local.clone()
    }

    /// Starts the task that tells other processes; it runs until aborted.
    pub fn spawn_notifier(&self, pool: Pool) -> JoinHandle<()> {
        let remote = self.remote.clone();
        tokio::spawn(async move {
            loop {
                remote.notified().await;
                tokio::time::sleep(DEBOUNCE).await;
                let sent = async {
                    let client = pool.get().await?;
                    client.execute(sql::NOTIFY_DUE, &[]).await?;
                    Ok::<_, crate::store::StoreError>(())
                }
                .await;
                if let Err(e) = sent {
                    // Other processes still find the work at their next poll.
                    tracing::debug!(error = %e, "could not NOTIFY other processes");
                }
            }
        })
    }
}
