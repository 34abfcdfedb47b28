-- name: TenantGet
-- GET /tenants/{key} (a tenant token only its own: the caller checks), and
-- the existence checks of the tenant routes. Primary key.
SELECT key, name, metadata, created_at, updated_at
FROM tenants
WHERE key = $1 AND deleted_at IS NULL;
