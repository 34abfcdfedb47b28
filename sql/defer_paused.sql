-- name: DeferPaused
-- The producer, before a claim, while the circuit breaker pauses webhooks ($1,
-- each resuming in $2 ms): their due rows among the first $3 of index
-- deliveries_due move to when the pause ends. Left due, they would be read past
-- by every claim (which filters them out), however many there are: with half of
-- 10 webhooks answering 500, a claim cost 12.6 ms instead of 1.7 ms. Moved,
-- each is read once per pause. Their attempts are not counted.
-- SKIP LOCKED: rows being claimed elsewhere are left alone, and two processes
-- deferring at once cannot deadlock.
WITH head AS MATERIALIZED (
    SELECT id, webhook_id
    FROM deliveries
    WHERE status = 'pending' AND NOT held AND next_retry_at <= now()
    ORDER BY next_retry_at
    LIMIT $3
), to_defer AS MATERIALIZED (
    SELECT d.id, paused.resume_in_ms
    FROM head
    JOIN unnest($1::uuid[], $2::bigint[]) AS paused (webhook_id, resume_in_ms) USING (webhook_id)
    JOIN deliveries d ON d.id = head.id
    -- Re-checked once locked: another process may have claimed the row and
    -- scheduled a later retry since `head` read it.
    WHERE d.status = 'pending' AND NOT d.held AND d.next_retry_at <= now()
    FOR UPDATE OF d SKIP LOCKED
)
UPDATE deliveries d
SET next_retry_at = now() + to_defer.resume_in_ms * interval '1 millisecond'
FROM to_defer
WHERE d.id = to_defer.id;
