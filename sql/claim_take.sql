-- name: ClaimTake
-- The producer, last statement of a claim's transaction: lease the due rows
-- src/queue/claim.rs chose ($1, from what claim_counts.sql walked, shared
-- among the locked lanes within each one's room) for $2 milliseconds, and
-- move each rate-limited lane's next slot one spacing ($4 microseconds,
-- for the lanes in $3) per row it took.
--
-- The rows are re-checked once locked (a disable may have held one, another
-- claim or a completion moved it, meanwhile). The status is compared with
-- IS NOT DISTINCT FROM, from which no partial index's predicate follows: the
-- only way to the rows is their primary key, or a plan cached while the table
-- was empty walks a due index for every row. A row with an ordering key is
-- taken only at the head of its sequence: `behind` already says so for
-- almost all, and the NOT EXISTS (index deliveries_sequence) covers two
-- events of one key accepted at the same moment.
-- The event's type, payload and trace context come from the join on events
-- the answer makes anyway (by primary key).
-- Incrementing attempts makes it the lease token (complete_batch.sql). The
-- transaction ends with this statement: no lock is held while sending.
WITH chosen AS MATERIALIZED (
    SELECT d.id
    FROM deliveries d
    WHERE d.id = ANY ($1::uuid[])
      AND d.status IS NOT DISTINCT FROM 'pending' AND NOT d.held AND NOT d.behind
      AND d.next_retry_at <= now()
      AND (d.ordering_seq IS NULL OR NOT EXISTS (
              SELECT 1 FROM deliveries ahead
              WHERE ahead.webhook_id = d.webhook_id AND ahead.ordering_key = d.ordering_key
                AND ahead.ordering_seq < d.ordering_seq
                AND ahead.status IN ('pending', 'processing')))
    ORDER BY d.id
    FOR UPDATE OF d SKIP LOCKED
), claimed AS (
    UPDATE deliveries d
    SET status = 'processing',
        attempts = d.attempts + 1,
        lease_expires_at = now() + $2::bigint * interval '1 millisecond',
        updated_at = now()
    FROM chosen
    WHERE d.id = chosen.id
    RETURNING d.id, d.webhook_id, d.tenant, d.event_id, d.attempts, d.budget_start, d.next_retry_at, d.ordering_key
), taken AS (
    SELECT webhook_id, count(*) AS n FROM claimed GROUP BY webhook_id
), lanes_moved AS (
    -- Only rate-limited lanes that took rows are written; the others (most)
    -- are not written at all.
    UPDATE lanes l
    SET next_slot = greatest(l.next_slot, now()) + taken.n * s.spacing_us * interval '1 microsecond'
    FROM unnest($3::uuid[], $4::bigint[]) AS s(webhook_id, spacing_us)
    JOIN taken USING (webhook_id)
    WHERE l.webhook_id = s.webhook_id
)
SELECT c.id, c.webhook_id, c.tenant, c.attempts, c.attempts - c.budget_start AS attempt_in_budget,
       c.ordering_key IS NOT NULL AS ordered,
       w.version AS webhook_version,
       e.type AS event_type, e.payload::text AS payload, e.created_at AS event_created_at,
       e.trace_parent, e.trace_state
FROM claimed c
JOIN webhooks w ON w.id = c.webhook_id
JOIN events e ON e.id = c.event_id
ORDER BY c.webhook_id, c.next_retry_at, c.id;
