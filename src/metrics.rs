//! Prometheus metrics (`GET /metrics`), one registry per application.
//!
//! Counters and histograms are kept in memory as attempts finish. The queue's
//! gauges are read from the database at scrape time, with statements served by
//! partial indexes, so a scrape costs the same with five million finished rows
//! as with none. The `prometheus` crate (tikv's) is used for its plain
//! registry-per-instance API: tests run many apps in one process and each must
//! count only its own attempts.

use std::time::Duration;

use prometheus::{
    Encoder, Gauge, GaugeVec, Histogram, HistogramOpts, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

use crate::delivery::Attempted;
use crate::store::{Client, Pool, StoreError};

pub struct Metrics {
    registry: Registry,
    attempts: IntCounterVec,
    delivery_latency: Histogram,
    attempt_duration: Histogram,
    busy_workers: IntGauge,
    deliveries: GaugeVec,
    queue_due: Gauge,
    queue_oldest_due_age: Gauge,
    pool_connections: GaugeVec,
}

const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    300.0, 1800.0, 3600.0,
];

impl Metrics {
    pub fn new(workers: usize) -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let attempts = IntCounterVec::new(
            Opts::new(
                "hookrelay_attempts_total",
                "Delivery attempts finished, by outcome",
            ),
            &["outcome"],
        )?;
        let delivery_latency = Histogram::with_opts(
            HistogramOpts::new(
                "hookrelay_delivery_latency_seconds",
                "From the event's acceptance to the receiver's 2xx",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
        )?;
        let attempt_duration = Histogram::with_opts(
            HistogramOpts::new(
                "hookrelay_attempt_duration_seconds",
                "How long one attempt took, answer or not",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
        )?;
        let busy_workers = IntGauge::new(
            "hookrelay_workers_busy",
            "Workers sending a delivery right now",
        )?;
        let total_workers = IntGauge::new(
            "hookrelay_workers",
            "Workers in this process (HOOKRELAY_WORKERS)",
        )?;
        total_workers.set(i64::try_from(workers).unwrap_or(i64::MAX));
        let deliveries = GaugeVec::new(
            Opts::new(
                "hookrelay_deliveries",
                "Deliveries in the database by status (success is the planner's estimate)",
            ),
            &["status"],
        )?;
        let queue_due = Gauge::new("hookrelay_queue_due", "Pending deliveries due now")?;
        let queue_oldest_due_age = Gauge::new(
            "hookrelay_queue_oldest_due_age_seconds",
            "How long the oldest due delivery has waited",
        )?;
        let pool_connections = GaugeVec::new(
            Opts::new(
                "hookrelay_db_pool_connections",
                "The API's database pool: in_use, idle and max",
            ),
            &["state"],
        )?;
        registry.register(Box::new(attempts.clone()))?;
        registry.register(Box::new(delivery_latency.clone()))?;
        registry.register(Box::new(attempt_duration.clone()))?;
        registry.register(Box::new(busy_workers.clone()))?;
        registry.register(Box::new(total_workers))?;
        registry.register(Box::new(deliveries.clone()))?;
        registry.register(Box::new(queue_due.clone()))?;
        registry.register(Box::new(queue_oldest_due_age.clone()))?;
        registry.register(Box::new(pool_connections.clone()))?;
        Ok(Metrics {
            registry,
            attempts,
            delivery_latency,
            attempt_duration,
            busy_workers,
            deliveries,
            queue_due,
            queue_oldest_due_age,
            pool_connections,
        })
    }

    pub fn attempt_started(&self) {
        self.busy_workers.inc();
    }

    /// Records a finished (or abandoned, `None`) attempt; `since_accepted` is the
    /// time from the event's acceptance to now.
    pub fn attempt_finished(&self, attempted: Option<&Attempted>, since_accepted: Duration) {
        self.busy_workers.dec();
        let Some(a) = attempted else { return };
        self.attempt_duration.observe(a.duration.as_secs_f64());
        let outcome = match &a.result {
            Ok(answer) if (200..300).contains(&answer.status) => {
                self.delivery_latency.observe(since_accepted.as_secs_f64());
                "success"
            }
            Ok(answer) if answer.status < 400 => "http_3xx",
            Ok(answer) if answer.status < 500 => "http_4xx",
            Ok(_) => "http_5xx",
            Err(f) => f.kind(),
        };
        self.attempts.with_label_values(&[outcome]).inc();
    }

    /// The text exposition, with the database gauges read now.
    pub async fn render(&self, client: &Client, pool: &Pool) -> Result<String, StoreError> {
        let queue = crate::store::stats::queue(client, crate::store::Scope::Any).await?;
        self.deliveries.reset();
        for status in ["pending", "processing", "success", "failed"] {
            self.deliveries.with_label_values(&[status]).set(0.0);
        }
        for (status, n) in &queue.by_status {
            self.deliveries.with_label_values(&[status]).set(*n);
        }
        self.queue_due.set(queue.due_now);
        self.queue_oldest_due_age.set(queue.oldest_due_age_seconds);
        let status = pool.status();
        let in_use = status.size.saturating_sub(status.available);
        self.pool_connections
            .with_label_values(&["in_use"])
            .set(in_use as f64);
        self.pool_connections
            .with_label_values(&["idle"])
            .set(status.available as f64);
        self.pool_connections
            .with_label_values(&["max"])
            .set(status.max_size as f64);
        let mut out = Vec::new();
        // Encoding to a Vec cannot fail but for a bad metric, which we do not have.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        Ok(String::from_utf8_lossy(&out).into_owned())
    }
}
