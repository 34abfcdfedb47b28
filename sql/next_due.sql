-- name: NextDue
-- The idle producer: milliseconds until the earliest pending delivery it could
-- claim is due (null when none is), leaving out webhooks ($1) and tenants ($2)
-- it may not take more of. Reads the head of index deliveries_due.
-- Written as ORDER BY … LIMIT 1 rather than min(): with stale statistics the
-- planner ran min() as a scan of every pending row.
SELECT (extract(epoch FROM (
           SELECT next_retry_at
           FROM deliveries
           WHERE status = 'pending' AND NOT held
             AND webhook_id <> ALL ($1::uuid[]) AND tenant <> ALL ($2::text[])
           ORDER BY next_retry_at
           LIMIT 1
       ) - now()) * 1000)::bigint AS wait_ms;
