-- name: RetentionTenantTokens
-- The retention sweeper: up to 1000 expired tenant tokens go (lookups refuse
-- them already). Index tenant_tokens_expires.
DELETE FROM tenant_tokens
WHERE hash IN (
    SELECT hash FROM tenant_tokens
    WHERE expires_at < now()
    ORDER BY expires_at
    LIMIT 1000
);
