//! The `ingest` and `ingest-validated` scenarios: events per second accepted
//! by POST /events, from a hookrelay with no workers, so that the figure is
//! the API and the database's writes alone.
//!
//! `ingest-validated` sends orders, larger than `ingest`'s payloads, with and
//! without a schema for their type in the catalog: the run without it is the
//! control, and the difference is what checking the schema costs.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Value};

use crate::hookrelay::Hookrelay;
use crate::postgres::{settle, Postgres};
use crate::receiver::Receiver;
use crate::support::BenchResult;

/// Events/s accepted by POST /events, 64 clients, one matching webhook, no workers.
pub async fn ingest(
    binary: &Path,
    server: &Postgres,
    receiver: &Receiver,
    events: usize,
) -> BenchResult<(f64, f64)> {
    let url = server.fresh().await?;
    let h = Arc::new(Hookrelay::start(binary, &url, &[("HOOKRELAY_WORKERS", "0")]).await?);
    h.webhook(&format!("{}/ok", receiver.base), &["bench.ingest"])
        .await?;
    settle(&url).await;
    let started = Instant::now();
    h.emit_many("bench.ingest", events, 64).await?;
    let rate = events as f64 / started.elapsed().as_secs_f64();
    Ok((rate, h.peak_rss_mib()))
}

/// `ingest` with orders for payloads (`order`), and `with_schema`, a schema in
/// the catalog for their type that each is checked against.
pub async fn ingest_orders(
    binary: &Path,
    server: &Postgres,
    receiver: &Receiver,
    events: usize,
    with_schema: bool,
) -> BenchResult<(f64, f64)> {
    let url = server.fresh().await?;
    let h = Arc::new(Hookrelay::start(binary, &url, &[("HOOKRELAY_WORKERS", "0")]).await?);
    h.webhook(&format!("{}/ok", receiver.base), &["bench.order"])
        .await?;
    // Without the schema the type is in the catalog all the same.
    let schema = if with_schema {
        order_schema()
    } else {
        Value::Null
    };
    let (status, body) = h
        .put("/event-types/bench.order", &json!({"schema": schema}))
        .await?;
    if status != 201 {
        return Err(format!("adding the event type answered {status}: {body}").into());
    }
    settle(&url).await;
    let started = Instant::now();
    h.emit_many_with("bench.order", events, 64, order).await?;
    let rate = events as f64 / started.elapsed().as_secs_f64();
    Ok((rate, h.peak_rss_mib()))
}

/// A typical event schema: an object of typed properties, some required, and
/// an array of objects.
fn order_schema() -> Value {
    json!({
        "type": "object",
        "required": ["order_id", "customer_id", "currency", "total", "items"],
        "properties": {
            "order_id": {"type": "integer", "minimum": 0},
            "customer_id": {"type": "string", "minLength": 1},
            "currency": {"type": "string", "enum": ["EUR", "GBP", "USD"]},
            "total": {"type": "number", "minimum": 0},
            "placed_at": {"type": "string"},
            "express": {"type": "boolean"},
            "items": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["sku", "quantity", "price"],
                    "properties": {
                        "sku": {"type": "string"},
                        "quantity": {"type": "integer", "minimum": 1},
                        "price": {"type": "number", "minimum": 0}
                    }
                }
            }
        }
    })
}

/// An order that `order_schema` accepts; its id is the sequence number.
fn order(seq: usize) -> Value {
    json!({
        "order_id": seq,
        "customer_id": "cus_8f2k1",
        "currency": "EUR",
        "total": 59.97,
        "placed_at": "2026-11-29T12:00:00Z",
        "express": false,
        "items": [
            {"sku": "tea-green-100g", "quantity": 2, "price": 9.99},
            {"sku": "mug-white", "quantity": 1, "price": 39.99}
        ]
    })
}
