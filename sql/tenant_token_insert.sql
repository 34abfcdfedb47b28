-- name: TenantTokenInsert
-- POST /tenants/{key}/tokens and /portal: stores the hash ($1) of a new token
-- of kind $3 for tenant $2, valid for $4 milliseconds. No row: no such tenant.
INSERT INTO tenant_tokens (hash, tenant, kind, expires_at)
SELECT $1::bytea, t.key, $3::text, now() + $4::bigint * interval '1 millisecond'
FROM tenants t
WHERE t.key = $2::text AND t.deleted_at IS NULL
RETURNING expires_at;
