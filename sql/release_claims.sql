-- name: ReleaseClaims
-- Shutdown: claims this process will not finish go back to pending, due now, and
-- the unfinished attempt is not counted. Guarded by the attempt like a completion.
UPDATE deliveries d
SET status = 'pending', attempts = d.attempts - 1, next_retry_at = now(),
    lease_expires_at = NULL, updated_at = now()
FROM unnest($1::uuid[], $2::int[]) AS r(id, attempt)
-- (lease_expires_at IS NOT NULL means processing; see complete_batch.sql for why it is asked so.)
WHERE d.id = r.id AND d.attempts = r.attempt AND d.lease_expires_at IS NOT NULL;
