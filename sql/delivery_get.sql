-- name: DeliveryGet
-- GET /deliveries/{id}. $2: the caller's tenant (null: the operator, any
-- tenant); another tenant's delivery is no delivery. Primary key.
SELECT d.id, d.tenant, d.webhook_id, d.event_id, d.status, d.attempts, d.next_retry_at, d.last_status_code,
       d.last_error, d.created_at, d.updated_at, d.completed_at, d.ordering_key,
       waiting.waiting_for, waiting.behind, waiting.paused_until
FROM deliveries d
CROSS JOIN LATERAL delivery_waiting(d.status, d.held, d.behind, d.next_retry_at,
                                    d.webhook_id, d.tenant, d.ordering_key, d.ordering_seq) waiting
WHERE d.id = $1 AND ($2::text IS NULL OR d.tenant = $2);
