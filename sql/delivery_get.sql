-- name: DeliveryGet
-- GET /deliveries/{id}.
SELECT id, webhook_id, event_id, status, attempts, next_retry_at, last_status_code,
       last_error, created_at, updated_at, completed_at
FROM deliveries
WHERE id = $1;
