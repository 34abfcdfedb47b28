-- name: ConsoleMinutes
-- The console's overview chart: deliveries created in each minute of the last
-- hour (the current minute included), and how many of them have succeeded and
-- failed so far; all tenants' ($1 null) or one tenant's. A range of index
-- deliveries_list: its cost is the last hour's deliveries, whatever the
-- history behind them (a tenant's chart reads the hour of every tenant: no
-- index by tenant is kept on deliveries, which every claim would pay for).
-- Run as an unnamed statement (src/store/stats.rs), planned for its scope.
SELECT date_trunc('minute', created_at) AS minute,
       count(*) AS deliveries,
       count(*) FILTER (WHERE status = 'success') AS succeeded,
       count(*) FILTER (WHERE status = 'failed') AS failed
FROM deliveries
WHERE created_at >= date_trunc('minute', now()) - interval '59 minutes'
  AND ($1::text IS NULL OR tenant = $1)
GROUP BY 1
ORDER BY 1;
