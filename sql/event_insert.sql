-- name: EventInsert
-- POST /events: the event and its fan-out, in one statement: one delivery for every
-- enabled webhook that subscribes to the type or to "*" (index webhooks_event_types).
-- The deliveries_notify trigger wakes the workers when any delivery was created.
WITH event AS (
    INSERT INTO events (id, type, payload)
    VALUES ($1, $2, $3::text::jsonb)
    RETURNING id, type, created_at
), fanout AS (
    INSERT INTO deliveries (id, webhook_id, event_id, next_retry_at, created_at, updated_at)
    SELECT gen_random_uuid(), w.id, event.id, event.created_at, event.created_at, event.created_at
    FROM webhooks w, event
    WHERE w.enabled AND w.event_types && ARRAY[event.type, '*']
    RETURNING 1
)
SELECT event.created_at, (SELECT count(*) FROM fanout) AS deliveries
FROM event;
