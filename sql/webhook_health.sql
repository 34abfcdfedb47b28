-- name: WebhookHealth
-- The console's webhook list and page: how each webhook of $1 (of tenant $2;
-- null: any) is doing. Its
-- success rate and p95 latency come from its last 50 deliveries created in the
-- past hour (index deliveries_by_webhook, then the latest attempt of each by
-- primary key), so a page costs the same for a webhook sending ten a day or
-- ten thousand a second; its run of failures is on its own row
-- (migrations/0008_auto_disable.sql).
SELECT w.id,
       count(d.id) AS recent,
       count(d.id) FILTER (WHERE d.status = 'success') AS succeeded,
       count(d.id) FILTER (WHERE d.status = 'failed') AS failed,
       percentile_disc(0.95) WITHIN GROUP (ORDER BY a.duration_ms) AS p95_ms,
       w.failing_since, w.failing_attempts, w.failing_first_error, w.failing_paused
FROM webhooks w
LEFT JOIN LATERAL (
    SELECT id, status, attempts
    FROM deliveries
    WHERE webhook_id = w.id AND created_at > now() - interval '1 hour'
    ORDER BY created_at DESC, id DESC
    LIMIT 50
) d ON true
LEFT JOIN delivery_attempts a ON a.delivery_id = d.id AND a.attempt = d.attempts
WHERE w.id = ANY ($1::uuid[]) AND ($2::text IS NULL OR w.tenant = $2)
GROUP BY w.id;
