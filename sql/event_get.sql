-- name: EventGet
-- GET /events/{id}, and the answer to a repeated Idempotency-Key. $2: the
-- caller's tenant (null: the operator, any tenant); another tenant's event is
-- no event. Primary key.
SELECT e.id, e.tenant, e.type, e.payload::text AS payload, e.ordering_key, e.created_at,
       (SELECT count(*) FROM deliveries d WHERE d.event_id = e.id) AS deliveries
FROM events e
WHERE e.id = $1 AND ($2::text IS NULL OR e.tenant = $2);
