-- name: RetentionIdempotencyKeys
-- The retention sweeper: idempotency keys last 24 hours; up to 1000 older ones
-- go, oldest first. Index idempotency_keys_created: every key it reads is one
-- it deletes.
DELETE FROM idempotency_keys
WHERE (tenant, key) IN (
    SELECT tenant, key FROM idempotency_keys
    WHERE created_at < now() - interval '24 hours'
    ORDER BY created_at
    LIMIT 1000
);
