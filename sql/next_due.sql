-- name: NextDue
-- The idle producer: milliseconds until the earliest pending delivery it could
-- claim is due (null when none is), leaving out webhooks it may not take more
-- of ($1). Reads the head of index deliveries_due.
SELECT (extract(epoch FROM min(next_retry_at) - now()) * 1000)::bigint AS wait_ms
FROM deliveries
WHERE status = 'pending' AND NOT held AND webhook_id <> ALL ($1::uuid[]);
