-- name: TenantPurgeWait
-- First step of a tenant's purge, a statement of its own: waits until every
-- transaction that holds a deleted tenant's row FOR KEY SHARE has ended, and
-- locks nothing beyond this statement. Those are the ingests
-- (event_insert.sql) that checked the tenant before DELETE /tenants/{key}
-- committed: once they have ended, their events are committed, and the next
-- statement (tenant_purge_events.sql), whose snapshot is taken after this
-- one, finds and removes them. No ingest can add a deleted tenant's events
-- after this: a check that comes later reads the tenant as deleted. Rows in
-- key order, as two purges running at once must take them. Index
-- tenants_deleted.
SELECT key
FROM tenants
WHERE deleted_at IS NOT NULL
ORDER BY key
FOR UPDATE;
