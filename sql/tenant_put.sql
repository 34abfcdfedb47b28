-- name: TenantPut
-- PUT /tenants/{key}: creates the tenant, or changes what the request names
-- (a field left out keeps its value; $2 and $4 say whether name and metadata
-- were given, so that null clears them). One statement on the primary key: two
-- concurrent PUTs of a new key cannot both insert. `created` tells 201 from
-- 200 (xmax is 0 on a row this statement inserted). No row: the tenant is
-- being deleted (its rows are still being removed); the caller answers 409.
INSERT INTO tenants AS t (key, name, metadata)
VALUES ($1, $3, coalesce($5::jsonb, '{}'))
ON CONFLICT (key) DO UPDATE
SET name       = CASE WHEN $2 THEN $3 ELSE t.name END,
    metadata   = CASE WHEN $4 THEN coalesce($5::jsonb, '{}') ELSE t.metadata END,
    updated_at = now()
WHERE t.deleted_at IS NULL
RETURNING key, name, metadata, created_at, updated_at, (xmax = 0) AS created;
