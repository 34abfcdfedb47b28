-- name: DeadLetterGroupsTenant
-- The portal's dead letters: as dead_letter_groups.sql, for tenant $3 alone,
-- read through its webhooks in id order after $1 (webhooks_by_tenant, then
-- one descent of deliveries_failed each), so other tenants' dead letters are
-- never walked past. At most $2.
SELECT w.id AS webhook_id, w.tenant, w.url, w.enabled,
       (SELECT count(*) FROM (SELECT 1 FROM deliveries d
                              WHERE d.status = 'failed' AND d.webhook_id = w.id
                              LIMIT 1000) capped) AS failed,
       newest.id AS newest_id, newest.completed_at AS newest_at,
       newest.last_status_code, newest.last_error
FROM webhooks w
CROSS JOIN LATERAL (
    SELECT d.id, d.completed_at, d.last_status_code, d.last_error
    FROM deliveries d
    WHERE d.status = 'failed' AND d.webhook_id = w.id
    ORDER BY d.completed_at DESC
    LIMIT 1
) newest
WHERE w.tenant = $3 AND w.id > $1 AND w.deleted_at IS NULL
ORDER BY w.id
LIMIT $2;
