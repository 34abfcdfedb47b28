-- name: DeliveryRetry
-- POST /deliveries/{id}/retry: a finished delivery goes back to pending, due now,
-- with a fresh retry budget; held if its webhook is disabled. No row: unknown
-- id (or another tenant's: $2 is the caller's tenant, null for the operator),
-- pending/processing (409), or its webhook was deleted.
-- The share lock on the webhook orders this with a concurrent PATCH, as in
-- webhook_retry_failed.sql.
WITH w AS MATERIALIZED (
    SELECT w.id, w.enabled
    FROM webhooks w
    WHERE w.id = (SELECT webhook_id FROM deliveries WHERE id = $1 AND ($2::text IS NULL OR tenant = $2))
      AND w.deleted_at IS NULL
    FOR SHARE
), retried AS (
    UPDATE deliveries d
    SET status = 'pending', next_retry_at = now(), budget_start = d.attempts,
        completed_at = NULL, updated_at = now(), held = NOT w.enabled,
        -- Sent ahead of nothing: out of its ordering key's sequence.
        ordering_seq = NULL, behind = false
    FROM w
    WHERE d.id = $1 AND d.webhook_id = w.id AND d.status IN ('success', 'failed')
    RETURNING d.*
)
-- What holds it now: its webhook may be disabled, paused or limited.
SELECT d.id, d.tenant, d.webhook_id, d.event_id, d.status, d.attempts, d.next_retry_at, d.last_status_code,
       d.last_error, d.created_at, d.updated_at, d.completed_at, d.ordering_key,
       waiting.waiting_for, waiting.behind, waiting.paused_until
FROM retried d
CROSS JOIN LATERAL delivery_waiting(d.status, d.held, d.behind, d.next_retry_at,
                                    d.webhook_id, d.tenant, d.ordering_key, d.ordering_seq) waiting;
