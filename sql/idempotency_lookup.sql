-- name: IdempotencyLookup
-- POST /events with a live Idempotency-Key: the event it created in tenant $1.
SELECT event_id FROM idempotency_keys WHERE tenant = $1 AND key = $2;
