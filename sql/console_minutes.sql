-- name: ConsoleMinutes
-- The console's overview chart: deliveries created in each minute of the last
-- hour (the current minute included), and how many of them have succeeded and
-- failed so far. A range of index deliveries_list: its cost is the last
-- hour's deliveries, whatever the history behind them.
SELECT date_trunc('minute', created_at) AS minute,
       count(*) AS deliveries,
       count(*) FILTER (WHERE status = 'success') AS succeeded,
       count(*) FILTER (WHERE status = 'failed') AS failed
FROM deliveries
WHERE created_at >= date_trunc('minute', now()) - interval '59 minutes'
GROUP BY 1
ORDER BY 1;
