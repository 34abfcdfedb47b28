//! Group commit for `POST /events`: concurrent requests share one statement and
//! one commit.
//!
//! One event per statement spent the database's time on statements, commits and
//! WAL flushes rather than rows (pgbench, the same insert and fan-out, 64
//! clients: 8,400 events/s one at a time, 36,000/s in batches of 32). So
//! handlers hand their event to a few writer tasks, each of which takes whatever
//! has queued up and inserts it in one statement. Nothing waits for a batch to
//! fill: an idle writer takes a lone event at once, so a quiet system sees no
//! added latency, and batches grow only while the database is busy.
//!
//! A request is answered only after its batch committed (durably, on the
//! writers' own connections: `Session::Ingest`), so an accepted event is a
//! stored one. When a batch fails on its data (a payload that PostgreSQL's
//! json input refuses, which the API's own checks should leave none of), its
//! events are written one by one, so that event fails alone; when the
//! database is away, all fail at once.
//!
//! Each event names its tenant; the statement checks the tenant exists (a
//! primary-key look-up in the same statement, no round trip), and an event
//! whose tenant does not is left out of the batch and answered on its own.
//! The check share-locks the tenant's row until the commit, so a tenant
//! deleted meanwhile is purged only after the batch is stored, its events
//! with it (sql/event_insert.sql, sql/tenant_purge_wait.sql).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use tokio::sync::{mpsc, oneshot, Mutex};
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::{transient, Pool, StoreError};
use crate::domain::TraceContext;
use crate::sql;

/// Most events in one statement, and most payload bytes.
const MAX_BATCH: usize = 256;
const MAX_BATCH_BYTES: usize = 8 << 20;

/// An event as stored.
#[derive(Debug, Clone, Copy)]
pub struct Inserted {
    pub created_at: DateTime<Utc>,
    /// How many deliveries it was fanned out to.
    pub deliveries: i64,
}

struct Job {
    id: Uuid,
    tenant: String,
    event_type: String,
    payload: String,
    ordering_key: Option<String>,
    trace: Option<TraceContext>,
    reply: oneshot::Sender<Result<Option<Inserted>, StoreError>>,
}

/// Where handlers send new events; cheap to clone.
#[derive(Clone)]
pub struct Ingest {
    jobs: mpsc::Sender<Job>,
}

impl Ingest {
    /// Starts `writers` writer tasks on the current runtime.
    pub fn spawn(pool: Pool, writers: usize) -> (Ingest, Vec<JoinHandle<()>>) {
        let (jobs, queue) = mpsc::channel(MAX_BATCH * writers.max(1));
        let queue = Arc::new(Mutex::new(queue));
        let tasks = (0..writers.max(1))
            .map(|_| tokio::spawn(write_loop(pool.clone(), queue.clone())))
            .collect();
        (Ingest { jobs }, tasks)
    }

    /// Stores one event (with the caller's trace context, if any) and its
    /// deliveries; returns once they are committed. `None`: the tenant does
    /// not exist (or is being deleted), and nothing was stored.
    pub async fn insert(
        &self,
        id: Uuid,
        tenant: &str,
        event_type: &str,
        payload: &str,
        ordering_key: Option<&str>,
        trace: Option<&TraceContext>,
    ) -> Result<Option<Inserted>, StoreError> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            id,
            tenant: tenant.to_owned(),
            event_type: event_type.to_owned(),
            payload: payload.to_owned(),
            ordering_key: ordering_key.map(str::to_owned),
            trace: trace.cloned(),
            reply,
        };
        self.jobs
            .send(job)
            .await
            .map_err(|_| StoreError::Unavailable("shutting down".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Unavailable("shutting down".into()))?
    }
}

/// The trace contexts of a batch, one per event, or empty when none has one
/// (then nothing is built per event).
#[derive(Default)]
pub struct Traces<'a> {
    parents: Vec<Option<&'a str>>,
    states: Vec<Option<&'a str>>,
}

impl<'a> Traces<'a> {
    pub fn of(traces: impl Iterator<Item = Option<&'a TraceContext>> + Clone) -> Traces<'a> {
        if traces.clone().all(|t| t.is_none()) {
            return Traces::default();
        }
        Traces {
            parents: traces
                .clone()
                .map(|t| t.map(TraceContext::traceparent))
                .collect(),
            states: traces
                .map(|t| t.and_then(TraceContext::tracestate))
                .collect(),
        }
    }
}

/// Inserts events and their fan-out in one statement (in `client`'s transaction,
/// if any). An event whose tenant does not exist is not in the answer.
/// Events with an ordering key take their places in its sequences in the
/// order given, and so do events with a trace context (the ordered statement
/// stores it); a batch with neither keeps to the plain statement.
pub async fn insert_events(
    client: &impl GenericClient,
    ids: &[Uuid],
    types: &[&str],
    payloads: &[&str],
    tenants: &[&str],
    ordering_keys: &[Option<&str>],
    traces: &Traces<'_>,
) -> Result<HashMap<Uuid, Inserted>, StoreError> {
    let rows = if ordering_keys.iter().all(Option::is_none) && traces.parents.is_empty() {
        let stmt = client.prepare_cached(sql::EVENT_INSERT).await?;
        client
            .query(&stmt, &[&ids, &types, &payloads, &tenants])
            .await?
    } else {
        let positions: Vec<i32> = (0..ids.len())
            .map(|i| i32::try_from(i).unwrap_or(i32::MAX))
            .collect();
        let stmt = client.prepare_cached(sql::EVENT_INSERT_ORDERED).await?;
        client
            .query(
                &stmt,
                &[
                    &ids,
                    &types,
                    &payloads,
                    &tenants,
                    &ordering_keys,
                    &positions,
                    &traces.parents,
                    &traces.states,
                ],
            )
            .await?
    };
    Ok(rows
        .iter()
        .map(|r| {
            let inserted = Inserted {
                created_at: r.get("created_at"),
                deliveries: r.get("deliveries"),
            };
            (r.get("id"), inserted)
        })
        .collect())
}

async fn write_loop(pool: Pool, queue: Arc<Mutex<mpsc::Receiver<Job>>>) {
    loop {
        let batch = {
            let mut queue = queue.lock().await;
            let Some(first) = queue.recv().await else {
                return;
            };
            let mut bytes = first.payload.len();
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH && bytes < MAX_BATCH_BYTES {
                match queue.try_recv() {
                    Ok(job) => {
                        bytes += job.payload.len();
                        batch.push(job);
                    }
                    Err(_) => break,
                }
            }
            batch
        };
        write(&pool, batch).await;
    }
}

async fn write(pool: &Pool, batch: Vec<Job>) {
    let written = write_batch(pool, &batch).await;
    match written {
        Ok(mut inserted) => {
            for job in batch {
                let _ = job.reply.send(Ok(inserted.remove(&job.id)));
            }
        }
        // One by one only when the data may be at fault: not when the database
        // is away or overloaded (a statement timeout, 57014, counts as
        // unavailable), where it would only add load.
        Err(e) if batch.len() > 1 && !e.is_unavailable() => {
            for job in batch {
                let answer = write_batch(pool, std::slice::from_ref(&job))
                    .await
                    .map(|mut one| one.remove(&job.id));
                let _ = job.reply.send(answer);
            }
        }
        Err(e) => {
            let mut jobs = batch.into_iter();
            let last = jobs.next_back();
            for job in jobs {
                let _ = job.reply.send(Err(StoreError::Unavailable(e.to_string())));
            }
            if let Some(job) = last {
                let _ = job.reply.send(Err(e));
            }
        }
    }
}

/// Writes a batch, again if it lost a race with a concurrent change (see
/// `store::transient`): the whole batch is one statement, so a retry is safe.
async fn write_batch(pool: &Pool, batch: &[Job]) -> Result<HashMap<Uuid, Inserted>, StoreError> {
    let mut tries = 0;
    loop {
        match write_batch_once(pool, batch).await {
            Err(e) if transient(&e, &mut tries).await => continue,
            done => return done,
        }
    }
}

async fn write_batch_once(
    pool: &Pool,
    batch: &[Job],
) -> Result<HashMap<Uuid, Inserted>, StoreError> {
    let client = pool.get().await?;
    let ids: Vec<Uuid> = batch.iter().map(|j| j.id).collect();
    let types: Vec<&str> = batch.iter().map(|j| j.event_type.as_str()).collect();
    let payloads: Vec<&str> = batch.iter().map(|j| j.payload.as_str()).collect();
    let tenants: Vec<&str> = batch.iter().map(|j| j.tenant.as_str()).collect();
    let keys: Vec<Option<&str>> = batch.iter().map(|j| j.ordering_key.as_deref()).collect();
    let traces = Traces::of(batch.iter().map(|j| j.trace.as_ref()));
    insert_events(&client, &ids, &types, &payloads, &tenants, &keys, &traces).await
}
