-- name: WebhookSecret
-- GET /webhooks/{id}/secret.
SELECT secret FROM webhooks WHERE id = $1 AND deleted_at IS NULL;
