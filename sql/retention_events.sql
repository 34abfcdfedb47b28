-- name: RetentionEvents
-- The retention sweeper: of the next 1000 events created before $1, after the
-- cursor ($2, $3, as in retention_deliveries.sql), deletes those with no
-- deliveries left (their idempotency keys go with them). Events that still
-- have deliveries are read once per sweep, not once per batch. Index
-- events_list, and deliveries_by_event for the NOT EXISTS.
WITH batch AS MATERIALIZED (
    SELECT id, created_at
    FROM events
    WHERE created_at < $1
      AND (created_at, id) > ($2, $3)
    ORDER BY created_at, id
    LIMIT 1000
), old AS (
    SELECT e.id
    FROM batch
    JOIN events e ON e.id = batch.id
    WHERE NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id)
    FOR UPDATE OF e SKIP LOCKED
), deleted AS (
    DELETE FROM events e
    USING old
    WHERE e.id = old.id
    RETURNING e.id
), last AS (
    SELECT created_at, id FROM batch ORDER BY created_at DESC, id DESC LIMIT 1
)
SELECT (SELECT count(*) FROM batch) AS read,
       (SELECT count(*) FROM deleted) AS deleted,
       (SELECT created_at FROM last) AS last_created_at,
       (SELECT id FROM last) AS last_id;
