-- name: MetricsDeliveriesByStatus
-- GET /metrics: deliveries per unfinished status, exactly (index-only scan of
-- deliveries_unfinished, so finished history costs nothing), and the number of
-- successful ones as the planner's estimate (counting them would read the table).
SELECT status, count(*)::float8 AS deliveries
FROM deliveries
WHERE status <> 'success'
GROUP BY status
UNION ALL
SELECT 'success', greatest(
    (SELECT reltuples FROM pg_class WHERE oid = 'deliveries'::regclass)
    - (SELECT count(*) FROM deliveries WHERE status <> 'success'), 0)::float8;
