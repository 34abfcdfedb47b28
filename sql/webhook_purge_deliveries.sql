-- name: WebhookPurgeDeliveries
-- After DELETE /webhooks/{id}, and on the retention sweeper's timer: removes up
-- to 1000 deliveries (and, by cascade, their attempts) of deleted webhooks.
-- Rows still being sent are left for a later pass; SKIP LOCKED keeps this
-- out of the way of the queue. Index webhooks_deleted, then deliveries_by_webhook.
WITH gone AS (
    SELECT d.id
    FROM webhooks w
    JOIN deliveries d ON d.webhook_id = w.id
    WHERE w.deleted_at IS NOT NULL AND d.status <> 'processing'
    LIMIT 1000
    FOR UPDATE OF d SKIP LOCKED
)
DELETE FROM deliveries d
USING gone
WHERE d.id = gone.id;
