-- name: ClaimCounts
-- The producer, second statement of a claim's transaction: for each locked
-- lane ($1), what it has in flight across every process, and its due rows,
-- oldest first, as many as it could take: at most $3 (the claim's size, or
-- its rate limit's slots in the next second) and its cap ($2) less what it
-- has in flight. Beside them, what each locked tenant ($4) has in flight.
-- Its own statement so that its snapshot is taken after claim_lanes.sql's
-- locks are held: every claim that committed before is counted, and none can
-- add to these lanes until this transaction ends (completions only take away).
-- Indexes deliveries_leased (a lane's count, at most its cap's rows),
-- deliveries_leased_by_tenant, and deliveries_lane_due (a lane's due rows).
WITH lane AS MATERIALIZED (
    SELECT l.webhook_id, l.cap, l.most, l.n,
           (SELECT count(*) FROM deliveries d
            WHERE d.webhook_id = l.webhook_id AND d.status = 'processing')::int AS in_flight
    FROM unnest($1::uuid[], $2::int[], $3::int[]) WITH ORDINALITY AS l(webhook_id, cap, most, n)
), tenants AS MATERIALIZED (
    SELECT ARRAY(SELECT (SELECT count(*) FROM deliveries d
                         WHERE d.tenant = t.tenant AND d.status = 'processing' AND d.tenant <> 'default')::int
                 FROM unnest($4::text[]) WITH ORDINALITY AS t(tenant, n)
                 ORDER BY t.n) AS in_flight
)
SELECT lane.webhook_id, lane.in_flight,
       ARRAY(SELECT d.id
             FROM deliveries d
             WHERE d.webhook_id = lane.webhook_id
               AND d.status = 'pending' AND NOT d.held AND NOT d.behind AND d.next_retry_at <= now()
             ORDER BY d.next_retry_at
             LIMIT greatest(least(lane.most, lane.cap - lane.in_flight), 0)) AS due,
       tenants.in_flight AS tenants
FROM lane, tenants
ORDER BY lane.n;
