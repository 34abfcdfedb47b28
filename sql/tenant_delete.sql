-- name: TenantDelete
-- DELETE /tenants/{key}, first statement of its transaction: the tenant
-- becomes a tombstone, gone for the API (its tokens stop working at once:
-- tenant_token_lookup.sql). Its row lock waits for webhook inserts under way
-- (webhook_insert.sql share-locks the tenant) and makes later ones wait, then
-- find no tenant. `default` is never deleted (and a CHECK says so too).
-- Ingests under way are not waited for here (their FOR KEY SHARE does not
-- conflict with this update, so a delete never waits behind a stream of
-- them); the purge waits for those that checked the tenant before this
-- commits (tenant_purge_wait.sql), and every later check reads it deleted.
UPDATE tenants
SET deleted_at = now(), updated_at = now()
WHERE key = $1 AND deleted_at IS NULL AND key <> 'default'
RETURNING key;
