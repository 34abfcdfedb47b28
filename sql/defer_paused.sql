-- name: DeferPaused
-- The producer, before a claim, while webhooks may take nothing now ($1, each
-- resuming in $2 ms): webhooks paused by the circuit breaker, and rate-limited
-- webhooks with as many claims waiting for their slots as they may hold. Their
-- due rows among the first $3 of index deliveries_due move to when each is
-- expected to be taken: the end of the pause, and for a rate limit one slot
-- apart ($4 ms; 0 for a pause). Left due, they would be read past by every
-- claim (which filters them out), however many there are: with half of 10
-- webhooks answering 500, a claim cost 12.6 ms instead of 1.7 ms. Moved, each
-- is read about once per pause, or once per slot. Their attempts are not counted.
-- SKIP LOCKED: rows being claimed elsewhere are left alone, and two processes
-- deferring at once cannot deadlock.
WITH head AS MATERIALIZED (
    SELECT ctid, id, webhook_id, next_retry_at
    FROM deliveries
    WHERE status = 'pending' AND NOT held AND next_retry_at <= now()
    ORDER BY next_retry_at
    LIMIT $3
), numbered AS MATERIALIZED (
    SELECT head.ctid, head.id, paused.resume_in_ms, paused.spacing_ms,
           row_number() OVER (PARTITION BY head.webhook_id ORDER BY head.next_retry_at) - 1 AS place
    FROM head
    JOIN unnest($1::uuid[], $2::bigint[], $4::bigint[])
         AS paused (webhook_id, resume_in_ms, spacing_ms) USING (webhook_id)
), to_defer AS MATERIALIZED (
    SELECT d.id, numbered.resume_in_ms + numbered.place * numbered.spacing_ms AS defer_ms
    FROM numbered
    -- The row version `head` read, by ctid as in claim_due.sql (whose comment
    -- says why), re-checked once locked: another process may have claimed the
    -- row and scheduled a later retry since `head` read it.
    JOIN deliveries d ON d.ctid = numbered.ctid
    WHERE d.id = numbered.id
      AND d.status IS NOT DISTINCT FROM 'pending' AND NOT d.held AND d.next_retry_at <= now()
    FOR UPDATE OF d SKIP LOCKED
)
UPDATE deliveries d
SET next_retry_at = now() + to_defer.defer_ms * interval '1 millisecond'
FROM to_defer
WHERE d.id = to_defer.id;
