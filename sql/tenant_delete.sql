-- name: TenantDelete
-- DELETE /tenants/{key}, first statement of its transaction: the tenant
-- becomes a tombstone, gone for the API (its tokens stop working at once:
-- tenant_token_lookup.sql). Its row lock waits for webhook inserts under way
-- (webhook_insert.sql share-locks the tenant) and makes later ones wait, then
-- find no tenant. `default` is never deleted (and a CHECK says so too).
UPDATE tenants
SET deleted_at = now(), updated_at = now()
WHERE key = $1 AND deleted_at IS NULL AND key <> 'default'
RETURNING key;
