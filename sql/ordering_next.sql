-- name: OrderingNext
-- The completer and the rescuer, after deliveries with an ordering key ($1)
-- reached success or failed: the next delivery of each one's sequence comes
-- forward (behind = false): due at once, and ahead of newer work, as it
-- keeps its place in the due index. Its own statement, after
-- the one that finished them: an ingest that queued a delivery behind one of
-- them held it FOR SHARE (event_insert_ordered.sql), so the finishing
-- statement waited for that ingest to commit, and this one, with a fresh
-- snapshot, sees what it queued. Index deliveries_sequence.
WITH done AS (
    SELECT DISTINCT d.webhook_id, d.ordering_key
    FROM deliveries d
    WHERE d.id = ANY ($1::uuid[]) AND d.ordering_key IS NOT NULL
), head AS (
    SELECT h.id
    FROM done
    CROSS JOIN LATERAL (
        SELECT x.id, x.behind
        FROM deliveries x
        WHERE x.webhook_id = done.webhook_id AND x.ordering_key = done.ordering_key
          AND x.ordering_seq IS NOT NULL AND x.status IN ('pending', 'processing')
        ORDER BY x.ordering_seq
        LIMIT 1
    ) h
    WHERE h.behind
    ORDER BY h.id
)
UPDATE deliveries d
SET behind = false, updated_at = now()
FROM head
WHERE d.id = head.id AND d.behind;
