-- name: TenantDeleteWebhooks
-- DELETE /tenants/{key}, after tenant_delete.sql in the same transaction:
-- every webhook of the tenant becomes a tombstone exactly as DELETE
-- /webhooks/{id} makes one (webhook_delete.sql), and the caller holds each
-- one's unfinished deliveries (webhook_hold.sql). Rows are locked in id order.
-- Returns each webhook and its new version, to announce to the workers.
-- Index webhooks_by_tenant.
WITH gone AS MATERIALIZED (
    SELECT id
    FROM webhooks
    WHERE tenant = $1 AND deleted_at IS NULL
    ORDER BY id
    FOR UPDATE
)
UPDATE webhooks w
SET enabled = false, deleted_at = now(), updated_at = now()
FROM gone
WHERE w.id = gone.id
RETURNING w.id, w.version;
