-- name: DeadLetterGroups
-- The console's dead letters: the webhooks that have failed deliveries, in
-- webhook id order after $1 (the cursor; the nil UUID on the first page), at
-- most $2, each with how many failed (counted up to 1000) and its newest
-- failure. A skip scan over deliveries_failed (webhook_id, completed_at): one
-- index descent per webhook shown, never a read of a whole dead-letter queue.
WITH RECURSIVE hooks(webhook_id) AS (
    (SELECT webhook_id FROM deliveries
     WHERE status = 'failed' AND webhook_id > $1
     ORDER BY webhook_id LIMIT 1)
    UNION ALL
    SELECT (SELECT d.webhook_id FROM deliveries d
            WHERE d.status = 'failed' AND d.webhook_id > h.webhook_id
            ORDER BY d.webhook_id LIMIT 1)
    FROM hooks h
    WHERE h.webhook_id IS NOT NULL
)
SELECT h.webhook_id, w.tenant, w.url, w.enabled,
       (SELECT count(*) FROM (SELECT 1 FROM deliveries d
                              WHERE d.status = 'failed' AND d.webhook_id = h.webhook_id
                              LIMIT 1000) capped) AS failed,
       newest.id AS newest_id, newest.completed_at AS newest_at,
       newest.last_status_code, newest.last_error
FROM hooks h
JOIN webhooks w ON w.id = h.webhook_id AND w.deleted_at IS NULL
CROSS JOIN LATERAL (
    SELECT d.id, d.completed_at, d.last_status_code, d.last_error
    FROM deliveries d
    WHERE d.status = 'failed' AND d.webhook_id = h.webhook_id
    ORDER BY d.completed_at DESC
    LIMIT 1
) newest
LIMIT $2;
