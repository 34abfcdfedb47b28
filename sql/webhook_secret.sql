-- name: WebhookSecret
-- GET /webhooks/{id}/secret. $2: the caller's tenant (null: any).
SELECT secret FROM webhooks WHERE id = $1 AND deleted_at IS NULL AND ($2::text IS NULL OR tenant = $2);
