-- name: NextDue
-- The idle producer: milliseconds until it may find something to claim (null
-- when nothing is pending): the head of index deliveries_due, or a lane with
-- parked rows whose pause ends, or whose next rate-limit slot comes within
-- the claim's horizon of a second (index lanes_parked). Lanes parked at
-- their max_in_flight or their tenant's cap get room when an attempt
-- finishes, and the completer wakes the producer then. The due index is
-- read as ORDER BY … LIMIT 1 rather than min(): with stale statistics the
-- planner ran min() as a scan of every pending row.
SELECT (extract(epoch FROM least(
           (SELECT next_retry_at
            FROM deliveries
            WHERE status = 'pending' AND NOT held AND NOT parked AND NOT behind
            ORDER BY next_retry_at
            LIMIT 1),
           (SELECT min(CASE WHEN paused_until > now() THEN paused_until
                            WHEN next_slot - interval '1 second' > now() THEN next_slot - interval '1 second'
                       END)
            FROM lanes
            WHERE parked)
       ) - now()) * 1000)::bigint AS wait_ms;
