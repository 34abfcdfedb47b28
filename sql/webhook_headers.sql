-- name: WebhookHeaders
-- GET /webhooks/{id}/headers: the custom headers with their values, which no
-- other read shows. Primary key. $2: the caller's tenant (null: any); another
-- tenant's webhook is no webhook.
SELECT headers FROM webhooks WHERE id = $1 AND deleted_at IS NULL AND ($2::text IS NULL OR tenant = $2);
