-- name: WebhookList
-- GET /webhooks, newest first, keyset-paginated on (created_at, id); index webhooks_list.
-- $1, $2: the cursor (past every row on the first page); $3: page size + 1.
SELECT id, url, event_types, description, enabled, disabled_reason, rate_limit, headers, created_at, updated_at
FROM webhooks
WHERE deleted_at IS NULL
  AND (created_at, id) < ($1, $2)
ORDER BY created_at DESC, id DESC
LIMIT $3;
