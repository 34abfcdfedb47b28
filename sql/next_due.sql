-- name: NextDue
-- The idle producer: milliseconds until the earliest pending delivery is due
-- (null when none is). Reads one entry of index deliveries_due.
SELECT (extract(epoch FROM min(next_retry_at) - now()) * 1000)::bigint AS wait_ms
FROM deliveries
WHERE status = 'pending' AND NOT held;
