-- name: WebhookTestEvent
-- POST /webhooks/{id}/test: one event ($2, $3, $4) and one delivery of it to
-- webhook $1 alone, due at once, in one statement and so one transaction; the
-- ordinary queue sends it, signed like any other. Without a payload ($4 null)
-- the event says what it is: {"test": true, "webhook_id": $1}. Nothing is written unless
-- the webhook exists and is enabled: no row means no such webhook, `enabled`
-- false that it is disabled. Primary key lookup.
--
-- FOR SHARE, as the fan-out (event_insert.sql) takes it: a PATCH or DELETE
-- under way holds the row, so this waits for it and sees a disable that
-- returned first; a disable that comes later waits for this commit, then
-- holds the delivery made here.
WITH target AS (
    SELECT id, enabled
    FROM webhooks
    WHERE id = $1 AND deleted_at IS NULL
    FOR SHARE
), event AS (
    INSERT INTO events (id, type, payload)
    SELECT $2, $3, coalesce($4::text::jsonb, jsonb_build_object('test', true, 'webhook_id', $1::uuid))
    FROM target
    WHERE target.enabled
    RETURNING id, created_at
), delivery AS (
    INSERT INTO deliveries (id, webhook_id, event_id, next_retry_at, created_at, updated_at)
    SELECT uuid_v7(), $1, event.id, event.created_at, event.created_at, event.created_at
    FROM event
    RETURNING id
)
SELECT target.enabled, delivery.id AS delivery_id
FROM target
LEFT JOIN delivery ON true;
