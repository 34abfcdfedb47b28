-- name: ClaimDue
-- The worker pool's producer, whenever workers are free: claim up to $1 due
-- deliveries, oldest due first, and lease them for $2 milliseconds.
--
-- One webhook must not take every worker (a receiver that hangs until the
-- timeout would starve the rest), so the claim honours a per-webhook cap of $7
-- deliveries in flight in this process: $3 lists webhooks that may take no more
-- (at the cap, or paused by the circuit breaker), and $5/$6 say how many the
-- others already have. A tenant, all its webhooks together, has a cap as well
-- ($11): $8 lists tenants at theirs, $9/$10 say how many the others have;
-- tenant `default`, where everything goes when tenants are not used, has
-- none (src/workers/throttle.rs says why). `head`
-- looks at most $4 rows ahead in index deliveries_due, so the cost stays
-- bounded however large a sick backlog grows.
--
-- The claim carries ids, not the webhook's URL or secrets: those may change
-- while the claim waits for a worker, so the worker reads them when the attempt
-- starts (src/workers/targets.rs). `version` tells it whether what it has
-- cached is older than what this claim saw.
--
-- MATERIALIZED keeps the planner from running `due` as a join that could update
-- more than $1 rows, and from re-running the window per row when its statistics
-- are stale (the queue's size swings faster than ANALYZE). `due` goes back to
-- the row versions `head` read, by ctid, and once they are locked re-checks
-- the newest: a disable may have held the row, a deferral moved it, another
-- process claimed it, meanwhile. SKIP LOCKED lets concurrent claimers pass
-- each other. The only ways to those rows must be their ctids: joined by id,
-- a plan cached while the table was empty (a fresh database, or statistics
-- taken between two bursts) ran the re-check as a walk of every due row for
-- each row of `head` (3.9 s per claim with 20,000 due, until the next
-- ANALYZE: the bench's fanout fell to 255/s). And the status is re-checked
-- with IS NOT DISTINCT FROM, from which no partial index's predicate follows:
-- with `= 'pending'`, deliveries_due was still a way in, and a plan that
-- walked it for each row of `fair` stalled steady 5,000/s for 50 s.
-- Incrementing attempts makes it the lease token: completions name the attempt
-- they claimed, so a worker whose lease ran out cannot overwrite a newer claim.
-- The transaction ends with this statement: no lock is held while sending.
WITH head AS MATERIALIZED (
    SELECT ctid, id, webhook_id, tenant, next_retry_at
    FROM deliveries
    WHERE status = 'pending' AND NOT held AND next_retry_at <= now()
      AND webhook_id <> ALL ($3::uuid[]) AND tenant <> ALL ($8::text[])
    ORDER BY next_retry_at
    LIMIT $4
), ranked AS MATERIALIZED (
    SELECT head.ctid, head.id, head.tenant, head.next_retry_at,
           row_number() OVER (PARTITION BY head.webhook_id ORDER BY head.next_retry_at, head.id)
             + coalesce(busy.in_flight, 0) AS slot
    FROM head
    LEFT JOIN unnest($5::uuid[], $6::int[]) AS busy (webhook_id, in_flight) USING (webhook_id)
), capped AS MATERIALIZED (
    -- A tenant's places are counted among the rows its webhooks' caps let
    -- through: counted over all of head, ties in next_retry_at (a batch of
    -- events shares its time) could give the two caps disjoint rows, and
    -- nothing would be claimed. Tenant `default` is left out of the count
    -- (and its sort: with everything in `default`, a tenth of the claim).
    SELECT r.ctid, r.id, r.next_retry_at,
           row_number() OVER (PARTITION BY r.tenant ORDER BY r.next_retry_at, r.id)
             + coalesce(tenant_busy.in_flight, 0) AS tenant_slot
    FROM ranked r
    LEFT JOIN unnest($9::text[], $10::int[]) AS tenant_busy (tenant, in_flight) USING (tenant)
    WHERE r.slot <= $7::int AND r.tenant <> 'default'
), fair AS MATERIALIZED (
    SELECT ctid, id, next_retry_at FROM ranked WHERE slot <= $7::int AND tenant = 'default'
    UNION ALL
    SELECT ctid, id, next_retry_at FROM capped WHERE tenant_slot <= $11::int
), due AS MATERIALIZED (
    SELECT d.id
    FROM fair r
    JOIN deliveries d ON d.ctid = r.ctid
    WHERE d.id = r.id
      AND d.status IS NOT DISTINCT FROM 'pending' AND NOT d.held AND d.next_retry_at <= now()
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
    RETURNING d.id, d.webhook_id, d.tenant, d.event_id, d.attempts, d.budget_start
)
SELECT c.id, c.webhook_id, c.tenant, c.attempts, c.attempts - c.budget_start AS attempt_in_budget,
       w.version AS webhook_version,
       e.type AS event_type, e.payload::text AS payload, e.created_at AS event_created_at
FROM claimed c
JOIN webhooks w ON w.id = c.webhook_id
JOIN events e ON e.id = c.event_id;
