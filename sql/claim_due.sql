-- name: ClaimDue
-- The worker pool's producer, whenever workers are free: claim up to $1 due
-- deliveries, oldest due first, and lease them for $2 milliseconds.
--
-- One webhook must not take every worker (a receiver that hangs until the
-- timeout would starve the rest), so the claim honours a per-webhook cap of $7
-- deliveries claimed by this process: $3 lists webhooks that may take no more
-- now (at the cap), and $5/$6 say how many the others already have. `head`
-- looks at most $4 rows ahead in index deliveries_due.
--
-- Webhooks paused by the circuit breaker ($8, each resuming in $9 ms) are not
-- filtered out of `head`: their due rows would have to be read past on every
-- claim, however many there are (a paused receiver with a big backlog made each
-- claim cost milliseconds). Instead the rows of theirs that `head` meets are
-- moved to when the pause ends (`deferred`), so each is read once per pause.
-- Their attempts are not counted.
--
-- MATERIALIZED keeps the planner from running `due` as a join that could update
-- more than $1 rows, and from re-running the window per row when its statistics
-- are stale (the queue's size swings faster than ANALYZE). `due` re-checks only
-- the status once a row is locked, so the lookup is by primary key. SKIP LOCKED
-- lets concurrent claimers pass each other (and keeps two of them deferring
-- each other's rows from deadlocking).
-- Incrementing attempts makes it the lease token: completions name the attempt
-- they claimed, so a worker whose lease ran out cannot overwrite a newer claim.
-- The transaction ends with this statement: no lock is held while sending.
WITH head AS MATERIALIZED (
    SELECT id, webhook_id, next_retry_at
    FROM deliveries
    WHERE status = 'pending' AND NOT held AND next_retry_at <= now()
      AND webhook_id <> ALL ($3::uuid[])
    ORDER BY next_retry_at
    LIMIT $4
), paused AS MATERIALIZED (
    SELECT * FROM unnest($8::uuid[], $9::bigint[]) AS p(webhook_id, resume_in_ms)
), to_defer AS MATERIALIZED (
    SELECT d.id, paused.resume_in_ms
    FROM head
    JOIN paused USING (webhook_id)
    JOIN deliveries d ON d.id = head.id
    WHERE d.status = 'pending'
    FOR UPDATE OF d SKIP LOCKED
), deferred AS (
    UPDATE deliveries d
    SET next_retry_at = now() + to_defer.resume_in_ms * interval '1 millisecond'
    FROM to_defer
    WHERE d.id = to_defer.id
), ranked AS MATERIALIZED (
    SELECT head.id, head.next_retry_at,
           row_number() OVER (PARTITION BY head.webhook_id ORDER BY head.next_retry_at)
             + coalesce(busy.in_flight, 0) AS slot
    FROM head
    LEFT JOIN unnest($5::uuid[], $6::int[]) AS busy (webhook_id, in_flight) USING (webhook_id)
    WHERE head.webhook_id NOT IN (SELECT webhook_id FROM paused)
), due AS MATERIALIZED (
    SELECT d.id
    FROM ranked r
    JOIN deliveries d ON d.id = r.id
    WHERE r.slot <= $7::int
      AND d.status = 'pending'
    ORDER BY r.next_retry_at
    LIMIT $1
    FOR UPDATE OF d SKIP LOCKED
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
