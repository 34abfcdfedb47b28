-- name: TenantPurgeEvents
-- After DELETE /tenants/{key} (once its webhooks' deliveries are purged: they
-- were the only deliveries of its events), and on the retention sweeper's
-- timer: removes up to 1000 events of deleted tenants, their idempotency keys
-- with them (ON DELETE CASCADE). Events that still have a delivery (one being
-- sent) are left for a later pass. Index tenants_deleted, then events_by_tenant.
WITH gone AS (
    SELECT e.id
    FROM tenants t
    JOIN events e ON e.tenant = t.key
    WHERE t.deleted_at IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id)
    LIMIT 1000
    FOR UPDATE OF e SKIP LOCKED
)
DELETE FROM events e
USING gone
WHERE e.id = gone.id;
