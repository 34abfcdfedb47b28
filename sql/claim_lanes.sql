-- name: ClaimLanes
-- The producer, first statement of a claim's transaction: find the lanes
-- (webhooks) that may have due work, and lock them so that no other claimer,
-- in this process or another, takes from them until this claim commits.
--
-- Two sources, so that a claim's cost follows the lanes with work and never
-- the depth of a blocked lane's backlog:
-- - `walked`: the first $1 rows of index deliveries_due (due, not parked, not
--   behind), oldest due first: new work, and retries that came due.
-- - `waiting`: up to $2 lanes with parked rows (index lanes_parked), least
--   recently served first, leaving out those whose pause or next rate slot is
--   more than a second away: they have no room, and their rows stay parked.
--
-- FOR UPDATE SKIP LOCKED on the lanes: a lane another claim holds is passed
-- over, never waited for. Tenants with a cap (every one but `default`) are
-- locked too, with a transaction-scoped advisory lock on the tenant's key
-- (class 0x6872), so two claims cannot both fill one tenant's last places;
-- a lane whose tenant is locked elsewhere is dropped here, as if locked.
-- What each lane has in flight is counted by the next statement, with a
-- snapshot taken after these locks are held (claim_counts.sql).
WITH walked AS MATERIALIZED (
    SELECT id, webhook_id, next_retry_at
    FROM deliveries
    WHERE status = 'pending' AND NOT held AND NOT parked AND NOT behind AND next_retry_at <= now()
    ORDER BY next_retry_at
    LIMIT $1
), waiting AS MATERIALIZED (
    SELECT l.webhook_id
    FROM lanes l
    WHERE l.parked
      AND (l.paused_until IS NULL OR l.paused_until <= now())
      AND l.next_slot <= now() + interval '1 second'
    ORDER BY l.served_at
    LIMIT $2
), candidate AS MATERIALIZED (
    SELECT webhook_id FROM walked
    UNION
    SELECT webhook_id FROM waiting
), lane AS MATERIALIZED (
    -- Each candidate's lane and webhook by primary key, a look-up each, in a
    -- subquery the planner cannot flatten (it locks): joined as sets, with
    -- 10,000 webhooks the planner hashed a scan of both tables into every
    -- claim (6 ms each; the tenants scenario drained at two thirds of its
    -- rate).
    SELECT lw.*
    FROM candidate c
    CROSS JOIN LATERAL (
        SELECT l.webhook_id, l.next_slot, l.trips, l.paused_until, l.parked,
               w.tenant, w.max_in_flight, w.rate_limit
        FROM lanes l
        JOIN webhooks w ON w.id = l.webhook_id
        WHERE l.webhook_id = c.webhook_id AND w.enabled AND w.deleted_at IS NULL
        FOR UPDATE OF l SKIP LOCKED
    ) lw
), walked_by_lane AS MATERIALIZED (
    SELECT webhook_id, array_agg(id ORDER BY next_retry_at) AS walked
    FROM walked
    GROUP BY webhook_id
), tenant AS MATERIALIZED (
    SELECT t.tenant,
           t.tenant = 'default' OR pg_try_advisory_xact_lock(26738, hashtext(t.tenant)) AS mine
    FROM (SELECT DISTINCT tenant FROM lane) t
)
SELECT lane.webhook_id, lane.tenant, lane.max_in_flight, lane.rate_limit, lane.trips,
       lane.parked, coalesce(lane.paused_until > now(), false) AS paused,
       (extract(epoch FROM greatest(lane.next_slot, now()) - now()) * 1000000)::bigint AS slot_in_us,
       coalesce(walked_by_lane.walked, '{}') AS walked
FROM lane
JOIN tenant USING (tenant)
LEFT JOIN walked_by_lane USING (webhook_id)
WHERE tenant.mine;
