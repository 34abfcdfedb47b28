-- name: WebhookInsert
-- POST /webhooks.
INSERT INTO webhooks (id, url, event_types, description, enabled, secret)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING id, url, event_types, description, enabled, disabled_reason, created_at, updated_at;
