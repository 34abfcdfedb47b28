-- name: WebhookHold
-- PATCH /webhooks/{id} with "enabled", and DELETE: hold ($2 = true) or release the
-- webhook's unfinished deliveries. Held rows leave the deliveries_due index, so a
-- disabled webhook's backlog costs the claim query nothing. Rows being sent right
-- now are marked too, so they are held when their attempt comes back as a retry.
UPDATE deliveries
SET held = $2, next_retry_at = CASE WHEN $2 THEN next_retry_at ELSE least(next_retry_at, now()) END
WHERE webhook_id = $1 AND status IN ('pending', 'processing') AND held <> $2;
