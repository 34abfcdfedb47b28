-- name: WebhookInsert
-- POST /webhooks.
INSERT INTO webhooks (id, url, event_types, description, enabled, secret, headers)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING id, url, event_types, description, enabled, headers, created_at, updated_at;
