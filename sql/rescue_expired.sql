-- name: RescueExpired
-- The rescuer, on its timer: deliveries whose lease ran out (the worker holding them
-- died or lost the database) go back to pending, due now, or to failed when that
-- attempt spent the budget ($1 = attempts per budget). The lost attempt is logged.
-- Index deliveries_leased. Returns each rescued delivery and whether it failed:
-- the caller emits those dead letters in the same transaction.
WITH expired AS (
    SELECT id, updated_at AS claimed_at
    FROM deliveries
    WHERE status = 'processing' AND lease_expires_at < now()
    ORDER BY lease_expires_at
    LIMIT 1000
    FOR UPDATE SKIP LOCKED
), rescued AS (
    UPDATE deliveries d
    SET status = CASE WHEN d.attempts - d.budget_start >= $1 THEN 'failed' ELSE 'pending' END,
        next_retry_at = now(),
        lease_expires_at = NULL,
        last_status_code = NULL,
        last_error = 'lease expired: the worker that claimed this attempt stopped before reporting',
        completed_at = CASE WHEN d.attempts - d.budget_start >= $1 THEN now() END,
        updated_at = now()
    FROM expired
    WHERE d.id = expired.id
    RETURNING d.id, d.attempts, expired.claimed_at, d.last_error, d.status, d.ordering_key
), logged AS (
    INSERT INTO delivery_attempts (delivery_id, attempt, started_at, error)
    SELECT id, attempts, claimed_at, last_error FROM rescued
    ON CONFLICT (delivery_id, attempt) DO NOTHING
)
SELECT id, status = 'failed' AS failed, ordering_key IS NOT NULL AS ordered FROM rescued;
