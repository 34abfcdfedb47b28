-- name: RetentionDeliveries
-- The retention sweeper (src/retention.rs): deletes up to 1000 finished
-- deliveries created and completed before $1, with their attempts (ON DELETE
-- CASCADE). Never touches pending or processing rows. Walks index
-- deliveries_list from the oldest; SKIP LOCKED keeps it out of the workers' way.
WITH old AS (
    SELECT id
    FROM deliveries
    WHERE created_at < $1 AND completed_at < $1 AND status IN ('success', 'failed')
    ORDER BY created_at
    LIMIT 1000
    FOR UPDATE SKIP LOCKED
)
DELETE FROM deliveries d
USING old
WHERE d.id = old.id;
