-- name: DeliveryRetry
-- POST /deliveries/{id}/retry: a finished delivery goes back to pending, due now,
-- with a fresh retry budget. No row: unknown id, or pending/processing (409).
UPDATE deliveries d
SET status = 'pending', next_retry_at = now(), budget_start = d.attempts,
    completed_at = NULL, updated_at = now(),
    held = NOT (SELECT w.enabled FROM webhooks w WHERE w.id = d.webhook_id)
WHERE d.id = $1 AND d.status IN ('success', 'failed')
RETURNING id, webhook_id, event_id, status, attempts, next_retry_at, last_status_code,
          last_error, created_at, updated_at, completed_at;
