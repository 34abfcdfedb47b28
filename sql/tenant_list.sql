-- name: TenantList
-- GET /tenants (the operator's), newest first, keyset-paginated on
-- (created_at, key); index tenants_list.
-- $1, $2: the cursor (past every row on the first page); $3: page size + 1.
SELECT key, name, metadata, created_at, updated_at
FROM tenants
WHERE deleted_at IS NULL
  AND (created_at, key) < ($1, $2)
ORDER BY created_at DESC, key DESC
LIMIT $3;
