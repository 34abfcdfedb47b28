-- name: WebhookTestEvent
-- POST /webhooks/{id}/test: one event ($2, $3, $4) and one delivery of it to
-- webhook $1 alone, due at once, in one statement and so one transaction; the
-- ordinary queue sends it, signed like any other. The event belongs to the
-- webhook's tenant. A payload given is kept as its text, like POST /events';
-- without one ($4 null) the event says what it is: {"test": true,
-- "webhook_id": $1}, as jsonb writes it (json_build_object would put a space
-- before each colon). Nothing is written unless the webhook
-- exists (and is the caller's: $5 is the caller's tenant, null for the
-- operator) and is enabled: no row means no such webhook, `enabled` false that
-- it is disabled. Primary key lookup.
--
-- FOR SHARE, as the fan-out (event_insert.sql) takes it: a PATCH or DELETE
-- under way holds the row, so this waits for it and sees a disable that
-- returned first; a disable that comes later waits for this commit, then
-- holds the delivery made here.
WITH target AS (
    SELECT id, tenant, enabled
    FROM webhooks
    WHERE id = $1 AND deleted_at IS NULL AND ($5::text IS NULL OR tenant = $5)
    FOR SHARE
), event AS (
    INSERT INTO events (id, tenant, type, payload)
    SELECT $2, target.tenant, $3,
           coalesce($4::text::json, jsonb_build_object('test', true, 'webhook_id', $1::uuid)::json)
    FROM target
    WHERE target.enabled
    RETURNING id, tenant, created_at
), delivery AS (
    INSERT INTO deliveries (id, tenant, webhook_id, event_id, next_retry_at, created_at, updated_at)
    SELECT uuid_v7(), event.tenant, $1, event.id, event.created_at, event.created_at, event.created_at
    FROM event
    RETURNING id
)
SELECT target.enabled, delivery.id AS delivery_id
FROM target
LEFT JOIN delivery ON true;
