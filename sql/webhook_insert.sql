-- name: WebhookInsert
-- POST /webhooks, for tenant $9. No row: the tenant does not exist or is being
-- deleted. FOR SHARE on the tenant orders this with DELETE /tenants/{key}
-- (tenant_delete.sql updates the row first): either the delete waits for this
-- commit and then deletes the new webhook with the others, or this waits for
-- the delete and finds no tenant. Either way no webhook outlives its tenant.
INSERT INTO webhooks (id, tenant, url, event_types, description, enabled, secret, rate_limit, headers, max_in_flight)
SELECT $1::uuid, t.key, $2::text, $3::text[], $4::text, $5::boolean, $6::text, $7::integer, $8::jsonb, $10::integer
FROM tenants t
WHERE t.key = $9::text AND t.deleted_at IS NULL
FOR SHARE OF t
RETURNING id, tenant, url, event_types, description, enabled, disabled_reason, rate_limit, max_in_flight, headers, created_at, updated_at;
