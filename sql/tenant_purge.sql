-- name: TenantPurge
-- Last step of a tenant's purge: the rows of deleted tenants that nothing
-- belongs to any more; their tokens go with them (ON DELETE CASCADE). Index
-- tenants_deleted, then webhooks_by_tenant and events_by_tenant.
DELETE FROM tenants t
WHERE t.deleted_at IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM webhooks w WHERE w.tenant = t.key)
  AND NOT EXISTS (SELECT 1 FROM events e WHERE e.tenant = t.key);
