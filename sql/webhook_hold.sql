-- name: WebhookHold
-- PATCH /webhooks/{id} with "enabled", and DELETE, in the transaction that
-- changed the webhook: hold ($2 = true) or release its unfinished deliveries.
-- Held rows leave the deliveries_lane_due index, so a disabled webhook's backlog
-- costs the claim nothing. Rows being sent right now are marked too, so an
-- attempt that comes back as a retry stays held.
--
-- Reads only unfinished rows (indexes deliveries_pending and deliveries_leased),
-- never the webhook's history. Locks rows in id order, as the completer and the
-- release do, so that none of them can deadlock with another.
WITH target AS MATERIALIZED (
    SELECT id
    FROM deliveries
    WHERE webhook_id = $1
      AND ((status = 'pending' AND held = NOT $2) OR (status = 'processing' AND held <> $2))
    ORDER BY id
    FOR UPDATE
)
UPDATE deliveries d
SET held = $2,
    next_retry_at = CASE WHEN $2 THEN d.next_retry_at ELSE least(d.next_retry_at, now()) END
FROM target
WHERE d.id = target.id AND d.status IN ('pending', 'processing');
