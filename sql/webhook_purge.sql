-- name: WebhookPurge
-- After webhook_purge_deliveries.sql has emptied them: the rows of deleted
-- webhooks with no delivery left. Index webhooks_deleted.
DELETE FROM webhooks w
WHERE w.deleted_at IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.webhook_id = w.id);
