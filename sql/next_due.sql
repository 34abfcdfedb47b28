-- name: NextDue
-- The idle producer, after a claim that swept every lane and took less than
-- it asked for: milliseconds until something may become claimable (null when
-- nothing will by itself). Due rows it did not get wait for a lane's room,
-- which a completion frees (the completer wakes the producer), or were
-- locked by another claimer, which takes them; new deliveries wake the
-- producers when they are inserted. What remains is time:
-- - the next retry to come due (index deliveries_retry_due: only rows tried
--   before, which is every row due later than its insert), read as ORDER BY
--   … LIMIT 1 past the due ones: with stale statistics the planner ran min()
--   as a scan of every pending row;
-- - the end of a breaker's pause (index lanes_paused_until);
-- - a rate-limited lane's next slot coming within a claim's second
--   (index lanes_next_slot).
SELECT (extract(epoch FROM least(
           (SELECT next_retry_at
            FROM deliveries
            WHERE status = 'pending' AND attempts > 0 AND NOT held AND NOT behind
              AND next_retry_at > now()
            ORDER BY next_retry_at
            LIMIT 1),
           (SELECT paused_until
            FROM lanes
            WHERE paused_until > now()
            ORDER BY paused_until
            LIMIT 1),
           (SELECT next_slot - interval '1 second'
            FROM lanes
            WHERE next_slot > now() + interval '1 second'
            ORDER BY next_slot
            LIMIT 1)
       ) - now()) * 1000)::bigint AS wait_ms;
