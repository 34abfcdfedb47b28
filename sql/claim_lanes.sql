-- name: ClaimLanes
-- The producer, first statement of a claim's transaction: find lanes
-- (webhooks) with due work, and lock them so that no other claimer, in this
-- process or another, takes from them until this claim commits.
--
-- A sweep of index deliveries_lane_due, one descent per lane (a skip scan):
-- each step finds the next webhook after the last with a pending row, and
-- that lane's earliest one. It starts after $1, the lane the process's last
-- claim stopped at, runs to the end and wraps round to $1, and stops after
-- $2 lanes, or once $3 of them have due work: so every lane gets its turn
-- (round-robin), and the claim's cost follows the number of lanes, never the
-- depth of anyone's backlog. A lane whose rows all wait for a retry costs
-- its one step. Every step is the same one-sided descent, and the wrap's
-- end ($1) is checked on the lane it found, not put in the index condition:
-- given `webhook_id > a AND webhook_id <= $1`, the planner estimated one row
-- and read the whole range through deliveries_pending and sorted it, every
-- pending row of every lane behind the cursor (31,342 rows a step in the
-- failing scenario), and never marked the lanes' dead entries in
-- deliveries_lane_due, which the descents then stepped over by the thousand.
--
-- Of the lanes with due work, those whose webhook is disabled or deleted,
-- paused by its breaker, or whose next rate-limit slot is more than a second
-- away are left alone; the others are locked FOR UPDATE SKIP LOCKED (a lane
-- another claim holds is passed over, never waited for). Tenants with a cap
-- (every one but `default`) are locked too, with a transaction-scoped
-- advisory lock on the tenant's key (class 0x6872), so two claims cannot
-- both fill one tenant's last places; a lane whose tenant is locked
-- elsewhere is dropped here, as if locked. What each lane has in flight is
-- counted by the next statement, with a snapshot taken after these locks
-- are held (claim_counts.sql).
--
-- Every row answers also `cursor` (the last lane the sweep reached: the
-- next claim starts after it), `cut` (the sweep stopped before it had seen
-- every lane) and `contended` (an open lane, or its tenant, was locked by
-- another claim: look again shortly). When no lane is locked, one row of
-- nulls carries them.
WITH RECURSIVE ahead (webhook_id, next_retry_at, step, found) AS (
    (SELECT d.webhook_id, d.next_retry_at, 1, (d.next_retry_at <= now())::int
     FROM deliveries d
     WHERE d.status = 'pending' AND NOT d.held AND NOT d.behind AND d.webhook_id > $1
     ORDER BY d.webhook_id, d.next_retry_at
     LIMIT 1)
    UNION ALL
    SELECT n.webhook_id, n.next_retry_at, a.step + 1, a.found + (n.next_retry_at <= now())::int
    FROM ahead a
    CROSS JOIN LATERAL (
        SELECT d.webhook_id, d.next_retry_at
        FROM deliveries d
        WHERE d.status = 'pending' AND NOT d.held AND NOT d.behind AND d.webhook_id > a.webhook_id
        ORDER BY d.webhook_id, d.next_retry_at
        LIMIT 1
    ) n
    WHERE a.step < $2 AND a.found < $3
), ahead_end AS (
    SELECT coalesce(max(step), 0) AS step, coalesce(max(found), 0) AS found FROM ahead
), wrapped (webhook_id, next_retry_at, step, found) AS (
    (SELECT d.webhook_id, d.next_retry_at, e.step + 1, e.found + (d.next_retry_at <= now())::int
     FROM ahead_end e
     CROSS JOIN LATERAL (
         SELECT d.webhook_id, d.next_retry_at
         FROM deliveries d
         WHERE d.status = 'pending' AND NOT d.held AND NOT d.behind
         ORDER BY d.webhook_id, d.next_retry_at
         LIMIT 1
     ) d
     WHERE e.step < $2 AND e.found < $3 AND d.webhook_id <= $1)
    UNION ALL
    SELECT n.webhook_id, n.next_retry_at, a.step + 1, a.found + (n.next_retry_at <= now())::int
    FROM wrapped a
    CROSS JOIN LATERAL (
        SELECT d.webhook_id, d.next_retry_at
        FROM deliveries d
        WHERE d.status = 'pending' AND NOT d.held AND NOT d.behind AND d.webhook_id > a.webhook_id
        ORDER BY d.webhook_id, d.next_retry_at
        LIMIT 1
    ) n
    WHERE a.step < $2 AND a.found < $3 AND n.webhook_id <= $1
), swept AS MATERIALIZED (
    SELECT * FROM ahead
    UNION ALL
    SELECT * FROM wrapped
), sweep AS (
    SELECT (SELECT webhook_id FROM swept ORDER BY step DESC LIMIT 1) AS cursor,
           coalesce((SELECT max(step) >= $2 OR max(found) >= $3 FROM swept), false) AS cut
), open AS MATERIALIZED (
    -- The due lanes that may take work now: webhook enabled (which a check
    -- constraint says implies not deleted: naming deleted_at here led the
    -- planner to the partial index webhooks_list, a scan of every webhook per
    -- lane), not paused, rate-limit slot within a second. Read without
    -- locks, by primary key, a look-up each (the LIMIT keeps the planner
    -- from joining the tables as sets).
    SELECT s.webhook_id, s.step
    FROM swept s
    CROSS JOIN LATERAL (
        SELECT 1
        FROM lanes l
        JOIN webhooks w ON w.id = l.webhook_id
        WHERE l.webhook_id = s.webhook_id AND w.enabled
          AND (l.paused_until IS NULL OR l.paused_until <= now())
          AND (w.rate_limit IS NULL OR l.next_slot <= now() + interval '1 second')
        LIMIT 1
    ) ok
    WHERE s.next_retry_at <= now()
), lane AS MATERIALIZED (
    -- Each open lane locked, and read again once locked, in a subquery the
    -- planner cannot flatten (it locks): joined as sets, with 10,000
    -- webhooks the planner hashed a scan of both tables into every claim.
    SELECT lw.*, o.step
    FROM open o
    CROSS JOIN LATERAL (
        SELECT l.webhook_id, l.next_slot, l.trips, l.paused_until,
               w.tenant, w.max_in_flight, w.rate_limit
        FROM lanes l
        JOIN webhooks w ON w.id = l.webhook_id
        WHERE l.webhook_id = o.webhook_id AND w.enabled
          AND (l.paused_until IS NULL OR l.paused_until <= now())
          AND (w.rate_limit IS NULL OR l.next_slot <= now() + interval '1 second')
        FOR UPDATE OF l SKIP LOCKED
    ) lw
), tenant AS MATERIALIZED (
    SELECT t.tenant,
           t.tenant = 'default' OR pg_try_advisory_xact_lock(26738, hashtext(t.tenant)) AS mine
    FROM (SELECT DISTINCT tenant FROM lane) t
), mine AS (
    SELECT lane.*
    FROM lane
    JOIN tenant USING (tenant)
    WHERE tenant.mine
)
SELECT mine.webhook_id, mine.tenant, mine.max_in_flight, mine.rate_limit, mine.trips,
       (extract(epoch FROM greatest(mine.next_slot, now()) - now()) * 1000000)::bigint AS slot_in_us,
       sweep.cursor, sweep.cut,
       (SELECT count(*) FROM open) > (SELECT count(*) FROM mine) AS contended
FROM sweep
LEFT JOIN mine ON true
ORDER BY mine.step;
