//! The completer: writes outcomes in batches, one transaction per batch,
//! guarded by the lease (`queue::complete`). If the database is down it keeps
//! the batch and retries; if the process dies first, the lease runs out and
//! the rescuer brings the rows back. Every batch written wakes the producer:
//! the lanes it finished have room again.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::{lock, Backoff, Shared, MAX_BATCH};
use crate::queue::{self, Completion};
use crate::store::StoreError;

pub(super) async fn run(shared: Arc<Shared>, mut done: mpsc::Receiver<Completion>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while done.recv_many(&mut batch, MAX_BATCH).await > 0 {
        write_batch(&shared, &mut batch).await;
        batch.clear();
    }
}

/// Writes one batch, retrying while the database is away. Once shutdown has
/// abandoned sends it gives up after a few tries: the leases will bring the rows back.
async fn write_batch(shared: &Shared, batch: &mut [Completion]) {
    let mut backoff = Backoff(0);
    let mut tries = 0;
    loop {
        let written: Result<_, StoreError> = async {
            let mut client = shared.pool.get().await?;
            queue::complete(&mut client, &mut *batch).await
        }
        .await;
        match written {
            Ok(written) => {
                {
                    let mut in_flight = lock(&shared.in_flight);
                    for c in batch.iter() {
                        in_flight.remove(&c.id);
                        if !written.accepted.contains(&c.id) {
                            tracing::warn!(delivery_id = %c.id, attempt = c.attempt, "lease lost before the outcome was recorded; outcome dropped");
                        }
                    }
                }
                // Lanes have room again, retries are due, dead letters fanned
                // out to operators' webhooks, the next of an ordering key came
                // forward: the producer looks again.
                shared.wake.notify_one();
                for webhook in &written.tripped {
                    shared.trip(*webhook);
                }
                record_runs(shared, batch, &written).await;
                return;
            }
            Err(e) => {
                tries += 1;
                if shared.abandon.is_cancelled() && tries >= 5 {
                    tracing::warn!(error = %e, count = batch.len(), "giving up on recording outcomes at shutdown");
                    return;
                }
                let wait = backoff.next();
                tracing::warn!(error = %e, retry_in = ?wait, count = batch.len(), "could not record outcomes; will retry");
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// After a batch is recorded: the runs of failures it changed (rarely any;
/// `queue::failing`). Not retried: a run left as it was is changed by the
/// webhook's next outcomes.
async fn record_runs(shared: &Shared, batch: &[Completion], written: &queue::Written) {
    let changes = queue::failing::changes(batch, written);
    if changes.is_empty() {
        return;
    }
    let recorded = async {
        let mut client = shared.pool.get().await?;
        queue::failing::record(&mut client, &changes).await
    }
    .await;
    match recorded {
        Ok(0) => {}
        Ok(n) => {
            tracing::info!(webhooks = n, "receivers recovered after a pause");
            shared.wake.notify_one();
        }
        Err(e) => tracing::warn!(error = %e, "could not record webhooks' runs of failures"),
    }
}
