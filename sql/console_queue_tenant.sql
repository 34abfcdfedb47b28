-- name: ConsoleQueueTenant
-- The portal's overview: tenant $1's queue, counted through its webhooks
-- (webhooks_by_tenant) in the partial indexes that hold unfinished
-- deliveries by webhook (deliveries_pending, deliveries_leased,
-- deliveries_failed), so neither other tenants nor finished history are read.
-- The operator's overview reads metrics_deliveries_by_status.sql and
-- metrics_queue.sql instead.
WITH hooks AS MATERIALIZED (
    SELECT id FROM webhooks WHERE tenant = $1
), due AS (
    SELECT count(*) AS n, min(d.next_retry_at) AS oldest
    FROM hooks h
    JOIN deliveries d ON d.webhook_id = h.id
    WHERE d.status = 'pending' AND NOT d.held AND d.next_retry_at <= now()
)
SELECT (SELECT n FROM due)::float8 AS due_now,
       coalesce(extract(epoch FROM now() - (SELECT oldest FROM due)), 0)::float8 AS oldest_due_age_seconds,
       (SELECT count(*) FROM hooks h JOIN deliveries d ON d.webhook_id = h.id
        WHERE d.status = 'pending')::float8 AS pending,
       (SELECT count(*) FROM hooks h JOIN deliveries d ON d.webhook_id = h.id
        WHERE d.status = 'processing')::float8 AS processing,
       (SELECT count(*) FROM hooks h JOIN deliveries d ON d.webhook_id = h.id
        WHERE d.status = 'failed')::float8 AS failed;
