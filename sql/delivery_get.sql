-- name: DeliveryGet
-- GET /deliveries/{id}. $2: the caller's tenant (null: the operator, any
-- tenant); another tenant's delivery is no delivery. Primary key.
SELECT d.id, d.tenant, d.webhook_id, d.event_id, d.status, d.attempts, d.next_retry_at, d.last_status_code,
       d.last_error, d.created_at, d.updated_at, d.completed_at, d.ordering_key,
       delivery_waiting_for(d.status, d.held, d.behind, d.parked, d.next_retry_at, d.webhook_id) AS waiting_for,
       delivery_ahead(d.behind, d.webhook_id, d.ordering_key, d.ordering_seq) AS behind,
       (SELECT l.paused_until FROM lanes l WHERE l.webhook_id = d.webhook_id AND l.paused_until > now())
         AS paused_until
FROM deliveries d
WHERE d.id = $1 AND ($2::text IS NULL OR d.tenant = $2);
