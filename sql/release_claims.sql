-- name: ReleaseClaims
-- Shutdown: claims this process will not finish go back to pending, due now, and
-- the unfinished attempt is not counted. Guarded by the attempt like a completion.
UPDATE deliveries d
SET status = 'pending', attempts = d.attempts - 1, next_retry_at = now(),
    lease_expires_at = NULL, updated_at = now()
FROM unnest($1::uuid[], $2::int[]) AS r(id, attempt)
WHERE d.id = r.id AND d.attempts = r.attempt AND d.status = 'processing';
