-- name: WebhookGet
-- GET /webhooks/{id}. Never selects the secret. $2: the caller's tenant (null:
-- the operator, any tenant); another tenant's webhook is no webhook.
SELECT id, tenant, url, event_types, description, enabled, disabled_reason, rate_limit, max_in_flight, headers, created_at, updated_at
FROM webhooks
WHERE id = $1 AND deleted_at IS NULL AND ($2::text IS NULL OR tenant = $2);
