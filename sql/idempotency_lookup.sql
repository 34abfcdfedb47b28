-- name: IdempotencyLookup
-- POST /events with a live Idempotency-Key: the event it created.
SELECT event_id FROM idempotency_keys WHERE key = $1;
