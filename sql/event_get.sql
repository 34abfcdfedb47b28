-- name: EventGet
-- GET /events/{id}, and the answer to a repeated Idempotency-Key.
SELECT e.id, e.type, e.payload::text AS payload, e.created_at,
       (SELECT count(*) FROM deliveries d WHERE d.event_id = e.id) AS deliveries
FROM events e
WHERE e.id = $1;
