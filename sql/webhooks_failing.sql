-- name: WebhooksFailing
-- The console's overview: the webhooks failing longest right now, in a run of
-- failed attempts (migrations/0008_auto_disable.sql), enabled or disabled by
-- it, at most $1; all tenants' ($2 null) or one tenant's. Reads webhooks
-- alone; the partial index webhooks_failing holds the enabled ones.
SELECT id, tenant, url, enabled, disabled_reason, failing_since, failing_attempts,
       failing_first_error, failing_paused
FROM webhooks
WHERE failing_since IS NOT NULL AND deleted_at IS NULL
  AND ($2::text IS NULL OR tenant = $2)
ORDER BY failing_since, id
LIMIT $1;
