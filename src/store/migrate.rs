//! Schema migrations: the files in `migrations/`, compiled in, applied in order.
//!
//! Two processes starting together both take the same advisory lock first, so
//! the second finds the work done. Each migration runs in its own transaction
//! with its ledger row, so a failed one leaves nothing half-applied.

use tokio_postgres::Client;

use super::StoreError;
use crate::sql;

struct Migration {
    version: i32,
    name: &'static str,
    sql: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("../../migrations/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "views",
        sql: include_str!("../../migrations/0002_views.sql"),
    },
    Migration {
        version: 3,
        name: "uuid_v7",
        sql: include_str!("../../migrations/0003_uuid_v7.sql"),
    },
    Migration {
        version: 4,
        name: "no_unfinished_index",
        sql: include_str!("../../migrations/0004_no_unfinished_index.sql"),
    },
    Migration {
        version: 5,
        name: "webhook_state",
        sql: include_str!("../../migrations/0005_webhook_state.sql"),
    },
    Migration {
        version: 6,
        name: "event_types",
        sql: include_str!("../../migrations/0006_event_types.sql"),
    },
    Migration {
        version: 7,
        name: "webhook_headers",
        sql: include_str!("../../migrations/0007_webhook_headers.sql"),
    },
    Migration {
        version: 8,
        name: "auto_disable",
        sql: include_str!("../../migrations/0008_auto_disable.sql"),
    },
    Migration {
        version: 9,
        name: "rate_limits",
        sql: include_str!("../../migrations/0009_rate_limits.sql"),
    },
    Migration {
        version: 10,
        name: "tenants",
        sql: include_str!("../../migrations/0010_tenants.sql"),
    },
    Migration {
        version: 11,
        name: "console_sessions",
        sql: include_str!("../../migrations/0011_console_sessions.sql"),
    },
    Migration {
        version: 12,
        name: "no_delivery_foreign_keys",
        sql: include_str!("../../migrations/0012_no_delivery_foreign_keys.sql"),
    },
    Migration {
        version: 13,
        name: "lanes",
        sql: include_str!("../../migrations/0013_lanes.sql"),
    },
    Migration {
        version: 14,
        name: "tenant_isolation",
        sql: include_str!("../../migrations/0014_tenant_isolation.sql"),
    },
    Migration {
        version: 15,
        name: "masked_attempt_headers",
        sql: include_str!("../../migrations/0015_masked_attempt_headers.sql"),
    },
    Migration {
        version: 16,
        name: "sealed_credentials",
        sql: include_str!("../../migrations/0016_sealed_credentials.sql"),
    },
    Migration {
        version: 17,
        name: "payload_text_metadata_size",
        sql: include_str!("../../migrations/0017_payload_text_metadata_size.sql"),
    },
    Migration {
        version: 18,
        name: "event_trace_context",
        sql: include_str!("../../migrations/0018_event_trace_context.sql"),
    },
    Migration {
        version: 19,
        name: "lane_first_claim",
        sql: include_str!("../../migrations/0019_lane_first_claim.sql"),
    },
];

pub fn latest_version() -> i32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

pub async fn applied_version(client: &Client) -> Result<i32, StoreError> {
    let row = client.query_one(sql::MIGRATIONS_APPLIED, &[]).await?;
    Ok(row.get("version"))
}

/// Applies every pending migration; returns how many ran.
pub async fn run(client: &mut Client) -> Result<usize, StoreError> {
    run_to(client, latest_version()).await
}

/// Applies pending migrations up to `version` only: for tests that build a
/// database as an older hookrelay left it, then upgrade it.
pub async fn run_to(client: &mut Client, version: i32) -> Result<usize, StoreError> {
    client.batch_execute(sql::MIGRATIONS_LOCK).await?;
    let result = apply_pending(client, version).await;
    // The lock is also released when the session ends, so a failed unlock is harmless.
    let _ = client.batch_execute(sql::MIGRATIONS_UNLOCK).await;
    result
}

async fn apply_pending(client: &mut Client, last: i32) -> Result<usize, StoreError> {
    client.batch_execute(sql::MIGRATIONS_TABLE).await?;
    let current = applied_version(client).await?;
    let mut ran = 0;
    for m in MIGRATIONS
        .iter()
        .filter(|m| m.version > current && m.version <= last)
    {
        let tx = client.transaction().await?;
        tx.batch_execute(m.sql).await?;
        tx.execute(sql::MIGRATIONS_RECORD, &[&m.version, &m.name])
            .await?;
        tx.commit().await?;
        tracing::info!(version = m.version, name = m.name, "applied migration");
        ran += 1;
    }
    Ok(ran)
}
