-- name: DeliveryGet
-- GET /deliveries/{id}. $2: the caller's tenant (null: the operator, any
-- tenant); another tenant's delivery is no delivery. Primary key.
SELECT id, tenant, webhook_id, event_id, status, attempts, next_retry_at, last_status_code,
       last_error, created_at, updated_at, completed_at
FROM deliveries
WHERE id = $1 AND ($2::text IS NULL OR tenant = $2);
