//! The process's one LISTEN connection, shared by everything that keeps in
//! memory what another process (or psql) may change.
//!
//! Three listen, each on a channel of its own (`sql/listen.sql`): the
//! event-type catalog (`hookrelay_event_types`), the send-target cache
//! (`hookrelay_webhooks`) and the producer's wake-up (`hookrelay_deliveries`,
//! new due work). One connection for all, not one each: a process holds one
//! more session than its pools, however many caches it has.
//!
//! A cache may believe what it holds only while announcements are heard, so
//! each is told when LISTEN has taken effect (it starts over: changes made
//! while nobody listened are read afresh) and when the connection is lost
//! (it keeps nothing until it is back).

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::poll_fn;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_postgres::{AsyncMessage, NoTls};

use crate::sql;
use crate::store::{pg_config, StoreError};

/// Waits between attempts to open the connection: doubling from the first to the last.
const RECONNECT: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(5));

/// Something that keeps in memory what a channel announces changes of.
pub trait Hears: Send + Sync {
    /// The channel it listens on.
    fn channel(&self) -> &'static str;
    /// One announcement on its channel.
    fn heard(&self, payload: &str);
    /// LISTEN took effect (`true`), or the connection was lost (`false`).
    fn listening(&self, on: bool);
}

/// New due work: wake the producer. Whatever arrived while nobody listened
/// is found by the wake-up that LISTEN taking effect brings.
impl Hears for Notify {
    fn channel(&self) -> &'static str {
        "hookrelay_deliveries"
    }

    fn heard(&self, _: &str) {
        self.notify_one();
    }

    fn listening(&self, on: bool) {
        if on {
            self.notify_one();
        }
    }
}

/// Keeps the LISTEN connection to `database_url` open, reconnecting after
/// failures, until the task is aborted; tells `hearers` what they listen for.
pub fn spawn(database_url: String, hearers: Vec<Arc<dyn Hears>>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut wait = RECONNECT.0;
        loop {
            let started = tokio::time::Instant::now();
            if let Err(e) = listen_once(&database_url, &hearers).await {
                tracing::debug!(error = %e, "the LISTEN connection was lost");
            }
            for h in &hearers {
                h.listening(false);
            }
            if started.elapsed() > Duration::from_secs(10) {
                wait = RECONNECT.0;
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(RECONNECT.1);
        }
    })
}

async fn listen_once(database_url: &str, hearers: &[Arc<dyn Hears>]) -> Result<(), StoreError> {
    let (client, mut connection) = pg_config(database_url)?.connect(NoTls).await?;
    // The connection is polled here, so the LISTEN below gets its answer.
    let drive = async {
        while let Some(message) = poll_fn(|cx| connection.poll_message(cx)).await {
            if let AsyncMessage::Notification(n) = message? {
                for h in hearers.iter().filter(|h| h.channel() == n.channel()) {
                    h.heard(n.payload());
                }
            }
        }
        Ok::<(), StoreError>(())
    };
    let subscribe = async {
        client.batch_execute(sql::LISTEN).await?;
        for h in hearers {
            h.listening(true);
        }
        std::future::pending::<Result<(), StoreError>>().await
    };
    tokio::select! {
        r = drive => r,
        r = subscribe => r,
    }
}
