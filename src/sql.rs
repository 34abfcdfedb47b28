//! Every statement hookrelay runs, by name. The text lives in `sql/`, one file
//! each with a header saying who runs it and which index serves it, so the queue
//! can be read, reviewed and `EXPLAIN`ed in psql without reading Rust.

macro_rules! statements {
    ($($name:ident = $file:literal;)*) => {
        $(pub const $name: &str = include_str!(concat!("../sql/", $file));)*
    };
}

statements! {
    MIGRATIONS_LOCK = "migrations_lock.sql";
    MIGRATIONS_UNLOCK = "migrations_unlock.sql";
    MIGRATIONS_TABLE = "migrations_table.sql";
    MIGRATIONS_APPLIED = "migrations_applied.sql";
    MIGRATIONS_RECORD = "migrations_record.sql";
    PING = "ping.sql";
    LISTEN = "listen.sql";
    DATABASE_EXISTS = "database_exists.sql";
    DATABASE_CREATE = "database_create.sql";

    WEBHOOK_INSERT = "webhook_insert.sql";
    WEBHOOK_GET = "webhook_get.sql";
    WEBHOOK_LIST = "webhook_list.sql";
    WEBHOOK_UPDATE = "webhook_update.sql";
    WEBHOOK_HOLD = "webhook_hold.sql";
    WEBHOOK_IN_FLIGHT = "webhook_in_flight.sql";
    WEBHOOK_DELETE = "webhook_delete.sql";
    WEBHOOK_PURGE_DELIVERIES = "webhook_purge_deliveries.sql";
    WEBHOOK_PURGE = "webhook_purge.sql";
    WEBHOOK_TARGETS = "webhook_targets.sql";
    WEBHOOK_SECRET = "webhook_secret.sql";
    WEBHOOK_HEADERS = "webhook_headers.sql";
    WEBHOOK_ROTATE_SECRET = "webhook_rotate_secret.sql";
    WEBHOOKS_TO_RESEAL = "webhooks_to_reseal.sql";
    WEBHOOK_RESEAL = "webhook_reseal.sql";
    WEBHOOK_RETRY_FAILED = "webhook_retry_failed.sql";
    WEBHOOK_TEST_EVENT = "webhook_test_event.sql";
    WEBHOOK_FAILING = "webhook_failing.sql";
    WEBHOOK_AUTO_DISABLE_DUE = "webhook_auto_disable_due.sql";
    WEBHOOK_AUTO_DISABLE = "webhook_auto_disable.sql";
    DEAD_LETTERS = "dead_letters.sql";

    IDEMPOTENCY_CLAIM = "idempotency_claim.sql";
    IDEMPOTENCY_LOOKUP = "idempotency_lookup.sql";
    EVENT_INSERT = "event_insert.sql";
    EVENT_INSERT_ORDERED = "event_insert_ordered.sql";
    EVENT_GET = "event_get.sql";
    EVENT_LIST = "event_list.sql";

    TENANT_PUT = "tenant_put.sql";
    TENANT_GET = "tenant_get.sql";
    TENANT_LIST = "tenant_list.sql";
    TENANT_DELETE = "tenant_delete.sql";
    TENANT_DELETE_WEBHOOKS = "tenant_delete_webhooks.sql";
    TENANT_PURGE_WAIT = "tenant_purge_wait.sql";
    TENANT_PURGE_EVENTS = "tenant_purge_events.sql";
    TENANT_PURGE = "tenant_purge.sql";
    TENANT_TOKEN_INSERT = "tenant_token_insert.sql";
    TENANT_TOKEN_LOOKUP = "tenant_token_lookup.sql";
    TENANT_TOKENS_REVOKE = "tenant_tokens_revoke.sql";

    EVENT_TYPE_PUT = "event_type_put.sql";
    EVENT_TYPE_GET = "event_type_get.sql";
    EVENT_TYPE_LIST = "event_type_list.sql";
    EVENT_TYPE_DELETE = "event_type_delete.sql";

    DELIVERY_GET = "delivery_get.sql";
    DELIVERY_LIST = "delivery_list.sql";
    DELIVERY_LIST_BY_TYPE = "delivery_list_by_type.sql";
    DELIVERY_LIST_BY_TENANT = "delivery_list_by_tenant.sql";
    DELIVERY_ATTEMPTS = "delivery_attempts.sql";
    DELIVERY_RETRY = "delivery_retry.sql";
    NOTIFY_DUE = "notify_due.sql";

    CLAIM_LANES = "claim_lanes.sql";
    CLAIM_COUNTS = "claim_counts.sql";
    CLAIM_TAKE = "claim_take.sql";
    NEXT_DUE = "next_due.sql";
    ORDERING_NEXT = "ordering_next.sql";
    COMPLETE_BATCH = "complete_batch.sql";
    RESCUE_EXPIRED = "rescue_expired.sql";
    RELEASE_CLAIMS = "release_claims.sql";
    RECONCILE_HELD = "reconcile_held.sql";

    RETENTION_DELIVERIES = "retention_deliveries.sql";
    RETENTION_EVENTS = "retention_events.sql";
    RETENTION_IDEMPOTENCY_KEYS = "retention_idempotency_keys.sql";
    RETENTION_TENANT_TOKENS = "retention_tenant_tokens.sql";
    METRICS_DELIVERIES_BY_STATUS = "metrics_deliveries_by_status.sql";
    METRICS_QUEUE = "metrics_queue.sql";

    CONSOLE_SESSION_OPEN = "console_session_open.sql";
    CONSOLE_SESSION_FIND = "console_session_find.sql";
    CONSOLE_SESSION_CLOSE = "console_session_close.sql";
    CONSOLE_MINUTES = "console_minutes.sql";
    WEBHOOK_HEALTH = "webhook_health.sql";
    WEBHOOKS_FAILING = "webhooks_failing.sql";
    DEAD_LETTER_GROUPS = "dead_letter_groups.sql";
    DEAD_LETTER_GROUPS_TENANT = "dead_letter_groups_tenant.sql";
    CONSOLE_QUEUE_TENANT = "console_queue_tenant.sql";
    EVENT_TYPES_OF = "event_types_of.sql";
    WEBHOOK_URLS_OF = "webhook_urls_of.sql";
}
