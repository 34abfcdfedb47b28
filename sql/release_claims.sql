-- name: ReleaseClaims
-- Claims this process will not send (shutdown, a lease that would run out during
-- the attempt, a breaker that tripped, a webhook found disabled or deleted when
-- the attempt was to start) go back to pending, due now, uncounted. $3 holds a
-- claim back with its webhook (held = true) when the worker saw it disabled.
-- Guarded by the attempt like a completion; rows are locked in id order (the
-- caller sorts) like every statement that locks many deliveries.
UPDATE deliveries d
SET status = 'pending', attempts = d.attempts - 1, next_retry_at = now(),
    lease_expires_at = NULL, updated_at = now(), held = d.held OR r.hold
FROM unnest($1::uuid[], $2::int[], $3::bool[]) AS r(id, attempt, hold)
-- (lease_expires_at IS NOT NULL means processing; see complete_batch.sql for why it is asked so.)
WHERE d.id = r.id AND d.attempts = r.attempt AND d.lease_expires_at IS NOT NULL;
