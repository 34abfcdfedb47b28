-- name: WebhookUpdate
-- PATCH /webhooks/{id}: a null argument keeps the column as it is, except
-- description and rate_limit, which $5 and $7 say whether to set (so they can
-- be cleared to null).
-- The row lock it takes waits for fan-outs under way (event_insert.sql locks
-- the webhooks it fans out to), so none of them can miss a disable. Trigger
-- webhooks_version bumps `version` when a column a send reads changes.
UPDATE webhooks
SET url         = coalesce($2, url),
    event_types = coalesce($3, event_types),
    enabled     = coalesce($4, enabled),
    description = CASE WHEN $5 THEN $6 ELSE description END,
    rate_limit  = CASE WHEN $7 THEN $8 ELSE rate_limit END,
    headers     = coalesce($9, headers),
    updated_at  = now()
WHERE id = $1 AND deleted_at IS NULL
RETURNING id, url, event_types, description, enabled, rate_limit, headers, created_at, updated_at, version;
