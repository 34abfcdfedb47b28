-- name: EventInsertOrdered
-- POST /events, for a batch in which some events carry an ordering key ($5)
-- or a trace context ($7 traceparent, $8 tracestate; either array may be
-- empty, which unnest reads as all NULL): event_insert.sql (read it first),
-- plus each keyed delivery's place in its (webhook, key) sequence. Batches
-- with neither never run this statement, so plain events cost what they did.
--
-- A keyed delivery takes the next number of sequence delivery_order, in the
-- order of the batch ($6 numbers the events as accepted), and is `behind`
-- (not due) when an earlier delivery of its sequence is unfinished: one of
-- this batch, or the sequence's last unfinished one in the table, which is
-- held FOR SHARE until this commits. The completion that finishes that one
-- therefore waits for this commit, and its next statement (ordering_next.sql)
-- sees this delivery and brings it forward; had it finished first, this
-- statement's lock would skip it and find the one before, or none.
-- Index deliveries_sequence.
WITH input AS (
    SELECT *
    FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[],
                $7::text[], $8::text[])
         AS i(id, type, payload, tenant, ordering_key, position, trace_parent, trace_state)
), event AS (
    INSERT INTO events (id, tenant, type, payload, ordering_key, trace_parent, trace_state)
    SELECT i.id, i.tenant, i.type, i.payload::json, i.ordering_key, i.trace_parent, i.trace_state
    FROM input i
    WHERE CASE WHEN i.tenant = 'default' THEN true
               ELSE (SELECT true FROM tenants t
                     WHERE t.key = i.tenant AND t.deleted_at IS NULL
                     FOR KEY SHARE)
          END
    RETURNING id, tenant, type, created_at, ordering_key
), target AS (
    SELECT event.id AS event_id, event.tenant, event.created_at, event.ordering_key, w.id AS webhook_id
    FROM event
    JOIN webhooks w
      ON w.enabled
     AND w.fanout_keys
         && CASE WHEN event.type LIKE 'hookrelay.%'
                 THEN ARRAY[event.tenant || '/' || event.type]
                 ELSE ARRAY[event.tenant || '/' || event.type, event.tenant || '/*'] END
    ORDER BY w.id
    FOR SHARE OF w
), tail AS (
    SELECT DISTINCT k.webhook_id, k.ordering_key
    FROM target k
    CROSS JOIN LATERAL (
        SELECT x.id
        FROM deliveries x
        WHERE x.webhook_id = k.webhook_id AND x.ordering_key = k.ordering_key
          AND x.ordering_seq IS NOT NULL AND x.status IN ('pending', 'processing')
        ORDER BY x.ordering_seq DESC
        LIMIT 1
        FOR SHARE
    ) last
    WHERE k.ordering_key IS NOT NULL
), placed AS (
    SELECT t.*, i.position,
           row_number() OVER (PARTITION BY t.webhook_id, t.ordering_key ORDER BY i.position) AS place
    FROM target t
    JOIN input i ON i.id = t.event_id
), fanout AS (
    INSERT INTO deliveries (id, tenant, webhook_id, event_id, next_retry_at, created_at, updated_at,
                            ordering_key, ordering_seq, behind)
    SELECT uuid_v7(), p.tenant, p.webhook_id, p.event_id, p.created_at, p.created_at, p.created_at,
           p.ordering_key,
           CASE WHEN p.ordering_key IS NOT NULL THEN nextval('delivery_order') END,
           p.ordering_key IS NOT NULL
             AND (p.place > 1 OR EXISTS (SELECT 1 FROM tail
                                         WHERE tail.webhook_id = p.webhook_id
                                           AND tail.ordering_key = p.ordering_key))
    FROM (SELECT * FROM placed ORDER BY position) p
    RETURNING event_id
)
SELECT event.id, event.created_at, count(fanout.event_id) AS deliveries
FROM event
LEFT JOIN fanout ON fanout.event_id = event.id
GROUP BY event.id, event.created_at;
