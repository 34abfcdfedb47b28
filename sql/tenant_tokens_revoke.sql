-- name: TenantTokensRevoke
-- DELETE /tenants/{key}/tokens: every token of the tenant, portal links'
-- included, stops working for the next request (tokens are looked up on every
-- request, never cached). found = 0: no such tenant. Index tenant_tokens_tenant.
WITH t AS (
    SELECT key FROM tenants WHERE key = $1 AND deleted_at IS NULL
), revoked AS (
    DELETE FROM tenant_tokens tt
    USING t
    WHERE tt.tenant = t.key
    RETURNING 1
)
SELECT (SELECT count(*) FROM t) AS found, (SELECT count(*) FROM revoked) AS revoked;
