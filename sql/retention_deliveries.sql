-- name: RetentionDeliveries
-- The retention sweeper (src/retention.rs): of the next 1000 deliveries created
-- before $1, after the cursor ($2, $3: the last row the previous batch read,
-- before every row at the start of a sweep), deletes the finished ones completed before $1,
-- with their attempts (ON DELETE CASCADE). Never touches pending or processing
-- rows, and never reads them twice in one sweep: the cursor moves past
-- whatever a batch read, deleted or not. Walks index deliveries_list from the
-- oldest; SKIP LOCKED keeps it out of the workers' way.
WITH batch AS MATERIALIZED (
    SELECT id, created_at
    FROM deliveries
    WHERE created_at < $1
      AND (created_at, id) > ($2, $3)
    ORDER BY created_at, id
    LIMIT 1000
), old AS (
    SELECT d.id
    FROM batch
    JOIN deliveries d ON d.id = batch.id
    WHERE d.status IN ('success', 'failed') AND d.completed_at < $1
    FOR UPDATE OF d SKIP LOCKED
), deleted AS (
    DELETE FROM deliveries d
    USING old
    WHERE d.id = old.id
    RETURNING d.id
), last AS (
    SELECT created_at, id FROM batch ORDER BY created_at DESC, id DESC LIMIT 1
)
SELECT (SELECT count(*) FROM batch) AS read,
       (SELECT count(*) FROM deleted) AS deleted,
       (SELECT created_at FROM last) AS last_created_at,
       (SELECT id FROM last) AS last_id;
