-- name: ClaimDue
-- The worker pool's producer, whenever workers are free: claim up to $1 due
-- deliveries, oldest due first, and lease them for $2 milliseconds.
--
-- Index deliveries_due serves the inner SELECT exactly. MATERIALIZED keeps the
-- planner from running it as a join that could update more than $1 rows, and
-- SKIP LOCKED lets concurrent claimers (other processes) pass each other.
-- Incrementing attempts makes it the lease token: completions name the attempt they
-- claimed, so a worker whose lease ran out cannot overwrite a newer claim.
-- The transaction ends with this statement: no lock is held while sending.
WITH due AS MATERIALIZED (
    SELECT id
    FROM deliveries
    WHERE status = 'pending' AND NOT held AND next_retry_at <= now()
    ORDER BY next_retry_at
    LIMIT $1
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE deliveries d
    SET status = 'processing',
        attempts = d.attempts + 1,
        lease_expires_at = now() + $2::bigint * interval '1 millisecond',
        updated_at = now()
    FROM due
    WHERE d.id = due.id
    RETURNING d.id, d.webhook_id, d.event_id, d.attempts, d.budget_start
)
SELECT c.id, c.webhook_id, c.attempts, c.attempts - c.budget_start AS attempt_in_budget,
       w.url, w.secret,
       CASE WHEN w.previous_secret_expires_at > now() THEN w.previous_secret END AS previous_secret,
       e.type AS event_type, e.payload::text AS payload, e.created_at AS event_created_at
FROM claimed c
JOIN webhooks w ON w.id = c.webhook_id
JOIN events e ON e.id = c.event_id;
