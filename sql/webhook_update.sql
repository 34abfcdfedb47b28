-- name: WebhookUpdate
-- PATCH /webhooks/{id}: a null argument keeps the column as it is, except
-- description and rate_limit, which $5 and $7 say whether to set (so they can
-- be cleared to null). $10: the caller's tenant (null: the operator, any
-- tenant); another tenant's webhook is no webhook.
-- The row lock it takes waits for fan-outs under way (event_insert.sql locks
-- the webhooks it fans out to), so none of them can miss a disable. Trigger
-- webhooks_version bumps `version` when a column a send reads changes.
-- A client's say on `enabled` clears disabled_reason (hookrelay's own, from
-- auto-disable); enabling a disabled webhook also ends its run of failures, so
-- it gets a full HOOKRELAY_AUTO_DISABLE_AFTER again (a disabled webhook has no
-- attempts that could end the run otherwise).
-- $9 replaces every custom header, but a value of '••••' (what reads show in
-- place of every value) keeps the one stored under that name; one given so for
-- a name not stored is left out, and the caller refuses the change.
UPDATE webhooks
SET url         = coalesce($2, url),
    event_types = coalesce($3, event_types),
    enabled     = coalesce($4, enabled),
    description = CASE WHEN $5 THEN $6 ELSE description END,
    rate_limit  = CASE WHEN $7 THEN $8 ELSE rate_limit END,
    max_in_flight = CASE WHEN $11 THEN $12 ELSE max_in_flight END,
    headers     = CASE WHEN $9::jsonb IS NULL THEN headers ELSE (
                      SELECT coalesce(jsonb_object_agg(n.name, CASE WHEN n.value = '"••••"' THEN headers -> n.name ELSE n.value END), '{}')
                      FROM jsonb_each($9::jsonb) AS n (name, value)
                      WHERE n.value <> '"••••"' OR headers ? n.name) END,
    disabled_reason     = CASE WHEN $4 IS NULL THEN disabled_reason END,
    failing_since       = CASE WHEN $4 AND NOT enabled THEN NULL ELSE failing_since END,
    failing_first_error = CASE WHEN $4 AND NOT enabled THEN NULL ELSE failing_first_error END,
    failing_attempts    = CASE WHEN $4 AND NOT enabled THEN 0 ELSE failing_attempts END,
    failing_paused      = CASE WHEN $4 AND NOT enabled THEN false ELSE failing_paused END,
    updated_at  = now()
WHERE id = $1 AND deleted_at IS NULL AND ($10::text IS NULL OR tenant = $10)
RETURNING id, tenant, url, event_types, description, enabled, disabled_reason, rate_limit, max_in_flight, headers, created_at, updated_at, version;
