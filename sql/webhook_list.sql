-- name: WebhookList
-- GET /webhooks, newest first, keyset-paginated on (created_at, id); index
-- webhooks_list, or webhooks_by_tenant for one tenant ($4: the ?tenant=
-- filter, or the caller's own tenant). Run as an unnamed statement, planned
-- for the filter it has (see delivery_list.sql).
-- $1, $2: the cursor (past every row on the first page); $3: page size + 1.
SELECT id, tenant, url, event_types, description, enabled, disabled_reason, rate_limit, max_in_flight, headers, created_at, updated_at
FROM webhooks
WHERE deleted_at IS NULL
  AND (created_at, id) < ($1, $2)
  AND ($4::text IS NULL OR tenant = $4)
ORDER BY created_at DESC, id DESC
LIMIT $3;
