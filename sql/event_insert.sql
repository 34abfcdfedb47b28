-- name: EventInsert
-- POST /events: a batch of events and their fan-out, in one statement and one
-- commit (src/store/ingest.rs gathers concurrent requests into it). Each event
-- gets one delivery for every enabled webhook that subscribes to its type or to
-- "*" (index webhooks_event_types), due at once, with a time-ordered id. "*"
-- does not match hookrelay's own events (types under "hookrelay."): those go
-- only to webhooks that name them.
--
-- FOR SHARE on the webhooks fanned out to: a PATCH or DELETE under way holds
-- the row, so the fan-out waits for it and then reads the webhook as changed
-- (a webhook disabled meanwhile gets no delivery); a PATCH that comes later
-- waits for this commit, and then holds what it created. Share locks do not
-- block each other, so concurrent ingests do not wait on one another.
WITH input AS (
    SELECT *
    FROM unnest($1::uuid[], $2::text[], $3::text[]) AS i(id, type, payload)
), event AS (
    INSERT INTO events (id, type, payload)
    SELECT id, type, payload::jsonb FROM input
    RETURNING id, type, created_at
), target AS (
    SELECT event.id AS event_id, event.created_at, w.id AS webhook_id
    FROM event
    JOIN webhooks w ON w.enabled AND w.event_types && CASE WHEN event.type LIKE 'hookrelay.%'
                                                           THEN ARRAY[event.type]
                                                           ELSE ARRAY[event.type, '*'] END
    FOR SHARE OF w
), fanout AS (
    INSERT INTO deliveries (id, webhook_id, event_id, next_retry_at, created_at, updated_at)
    SELECT uuid_v7(), webhook_id, event_id, created_at, created_at, created_at
    FROM target
    RETURNING event_id
)
SELECT event.id, event.created_at, count(fanout.event_id) AS deliveries
FROM event
LEFT JOIN fanout ON fanout.event_id = event.id
GROUP BY event.id, event.created_at;
