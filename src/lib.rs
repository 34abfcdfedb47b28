//! hookrelay: webhook delivery with Postgres as the only store and the only queue.
//!
//! Start at `startup.rs` (how the pieces are put together), `service/` (what
//! the API and the console do), `workers/` (how deliveries are claimed, sent
//! and recorded) and `queue/` (the SQL queue).

pub mod api;
pub mod catalog;
pub mod config;
pub mod console;
pub mod delivery;
pub mod domain;
pub mod healthcheck;
pub mod metrics;
pub mod otel;
pub mod queue;
pub mod retention;
pub mod service;
pub mod sql;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod wakeup;
pub mod workers;
