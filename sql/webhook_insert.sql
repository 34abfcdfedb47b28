-- name: WebhookInsert
-- POST /webhooks.
INSERT INTO webhooks (id, url, event_types, description, enabled, secret, rate_limit, headers)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING id, url, event_types, description, enabled, disabled_reason, rate_limit, headers, created_at, updated_at;
