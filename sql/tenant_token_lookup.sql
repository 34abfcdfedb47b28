-- name: TenantTokenLookup
-- Every request that presents an hrt_ token (src/api/auth.rs): the tenant the
-- token acts as, if it is unexpired, unrevoked, and its tenant not deleted.
-- Two primary-key look-ups; nothing is cached, so a revocation or a tenant's
-- deletion applies to the very next request, in every process.
SELECT tt.tenant
FROM tenant_tokens tt
JOIN tenants t ON t.key = tt.tenant AND t.deleted_at IS NULL
WHERE tt.hash = $1 AND tt.expires_at > now();
