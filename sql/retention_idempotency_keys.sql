-- name: RetentionIdempotencyKeys
-- The retention sweeper: idempotency keys last 24 hours; up to 1000 older ones go.
DELETE FROM idempotency_keys
WHERE key IN (
    SELECT key FROM idempotency_keys
    WHERE created_at < now() - interval '24 hours'
    LIMIT 1000
);
