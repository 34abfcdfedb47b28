-- name: WebhookRetryFailed
-- POST /webhooks/{id}/retry-failed: every failed delivery of webhook $1 (that failed
-- at or after $2, when given) back to pending, due now, with a fresh budget.
-- Index deliveries_failed.
UPDATE deliveries d
SET status = 'pending', next_retry_at = now(), budget_start = d.attempts,
    completed_at = NULL, updated_at = now(), held = NOT w.enabled
FROM webhooks w
WHERE w.id = $1 AND d.webhook_id = $1 AND d.status = 'failed'
  AND ($2::timestamptz IS NULL OR d.completed_at >= $2);
