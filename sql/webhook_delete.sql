-- name: WebhookDelete
-- DELETE /webhooks/{id}: its deliveries and their attempts go with it (ON DELETE CASCADE).
DELETE FROM webhooks WHERE id = $1;
