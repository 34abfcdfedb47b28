-- name: RetentionEvents
-- The retention sweeper: deletes up to 1000 events created before $1 that have
-- no deliveries left (their idempotency keys go with them). Index events_list,
-- and deliveries_by_event for the NOT EXISTS.
WITH old AS (
    SELECT e.id
    FROM events e
    WHERE e.created_at < $1
      AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id)
    ORDER BY e.created_at
    LIMIT 1000
    FOR UPDATE SKIP LOCKED
)
DELETE FROM events e
USING old
WHERE e.id = old.id;
