-- name: MetricsDeliveriesByStatus
-- GET /metrics: deliveries per unfinished status, exactly, each counted in the
-- partial index that holds it (deliveries_pending, _leased,
-- _failed), so finished history costs nothing; and the number of successful
-- ones as the planner's estimate (counting them would read the table).
WITH unfinished AS (
    SELECT 'pending' AS status,
           (SELECT count(*) FROM deliveries WHERE status = 'pending' AND NOT held)
         + (SELECT count(*) FROM deliveries WHERE status = 'pending' AND held) AS deliveries
    UNION ALL
    SELECT 'processing', (SELECT count(*) FROM deliveries WHERE status = 'processing')
    UNION ALL
    SELECT 'failed', (SELECT count(*) FROM deliveries WHERE status = 'failed')
)
SELECT status, deliveries::float8 AS deliveries
FROM unfinished
UNION ALL
SELECT 'success', greatest(
    (SELECT reltuples FROM pg_class WHERE oid = 'deliveries'::regclass)
    - (SELECT sum(deliveries) FROM unfinished), 0)::float8;
