-- name: WebhookGet
-- GET /webhooks/{id}. Never selects the secret.
SELECT id, url, event_types, description, enabled, disabled_reason, rate_limit, headers, created_at, updated_at
FROM webhooks
WHERE id = $1 AND deleted_at IS NULL;
