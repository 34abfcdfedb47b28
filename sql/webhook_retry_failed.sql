-- name: WebhookRetryFailed
-- POST /webhooks/{id}/retry-failed: every failed delivery of webhook $1 (that failed
-- at or after $2, when given) back to pending, due now, with a fresh budget;
-- held if the webhook is disabled. Index deliveries_failed.
--
-- The share lock on the webhook orders this with a concurrent PATCH: either the
-- PATCH waits and then holds or releases these rows, or this waits and reads
-- the `enabled` the PATCH wrote. Rows are locked in id order, like every
-- statement that locks many deliveries. found = 0: no such webhook (or
-- another tenant's: $3 is the caller's tenant, null for the operator).
WITH w AS MATERIALIZED (
    SELECT id, enabled
    FROM webhooks
    WHERE id = $1 AND deleted_at IS NULL AND ($3::text IS NULL OR tenant = $3)
    FOR SHARE
), failed AS MATERIALIZED (
    SELECT d.id
    FROM deliveries d
    JOIN w ON w.id = d.webhook_id
    WHERE d.status = 'failed' AND ($2::timestamptz IS NULL OR d.completed_at >= $2)
    ORDER BY d.id
    FOR UPDATE OF d
), requeued AS (
    UPDATE deliveries d
    SET status = 'pending', next_retry_at = now(), budget_start = d.attempts,
        completed_at = NULL, updated_at = now(), held = NOT w.enabled,
        -- Sent ahead of nothing: out of its ordering key's sequence.
        ordering_seq = NULL, behind = false
    FROM failed, w
    WHERE d.id = failed.id AND d.status = 'failed'
    RETURNING d.id
)
SELECT (SELECT count(*) FROM w) AS found, (SELECT count(*) FROM requeued) AS requeued;
