-- name: ReconcileHeld
-- The rescuer, on its timer; a safety net: pending rows held although their
-- webhook is enabled would never be attempted nor failed. PATCH, the retries
-- and the fan-out lock the webhook row so this should find nothing; when it
-- does, it releases them (due now) and the caller logs a warning.
-- Index deliveries_pending (its held = true range: only held rows are read).
-- SKIP LOCKED on both rows: a PATCH under way on the webhook settles it itself.
WITH wrong AS MATERIALIZED (
    SELECT d.id
    FROM deliveries d
    JOIN webhooks w ON w.id = d.webhook_id
    WHERE d.status = 'pending' AND d.held AND w.enabled
    ORDER BY d.id
    LIMIT 1000
    FOR UPDATE OF d SKIP LOCKED
    FOR SHARE OF w SKIP LOCKED
)
UPDATE deliveries d
SET held = false, next_retry_at = least(d.next_retry_at, now())
FROM wrong
WHERE d.id = wrong.id AND d.status = 'pending' AND d.held;
