-- name: ClaimTake
-- The producer, last statement of a claim's transaction: take from each
-- locked lane ($1) the number of due rows it has room for ($2, decided by
-- src/queue/claim.rs from claim_counts.sql), oldest due first, and lease them
-- for $6 milliseconds. A lane's rows are those claim_lanes.sql walked ($4)
-- and, where the lane has parked rows ($3), up to $2 of those (index
-- deliveries_parked).
--
-- Walked rows of the lanes in $5 that were not taken are parked: those lanes
-- had less room than due work, and parked rows leave index deliveries_due,
-- so later claims do not read past them again. A lane's `parked` stays true
-- while any of its rows are; its `next_slot` moves one rate-limit slot ($7
-- microseconds apart, 0 for none) per row taken; `served_at` records the
-- turn it had.
--
-- The rows are re-checked once locked (a disable may have held one, another
-- claim or a completion moved it, meanwhile), by ctid as before: the only way
-- in must be the row versions read, or a plan cached while the table was
-- empty walks the due index for every row. A row with an ordering key is
-- taken only at the head of its sequence: `behind` already says so for
-- almost all, and the NOT EXISTS (index deliveries_sequence) covers two
-- events of one key accepted at the same moment.
-- The event's type, payload and trace context come from the join on events
-- the answer makes anyway (by primary key).
-- Incrementing attempts makes it the lease token (complete_batch.sql). The
-- transaction ends with this statement: no lock is held while sending.
WITH lane AS MATERIALIZED (
    SELECT *
    FROM unnest($1::uuid[], $2::int[], $3::bool[], $7::bigint[])
         AS l(webhook_id, take, has_parked, spacing_us)
), offered AS MATERIALIZED (
    SELECT d.ctid, d.id, d.webhook_id, d.next_retry_at, false AS was_parked
    FROM deliveries d
    WHERE d.id = ANY ($4::uuid[])
    UNION ALL
    SELECT p.ctid, p.id, p.webhook_id, p.next_retry_at, true
    FROM lane
    CROSS JOIN LATERAL (
        SELECT ctid, id, webhook_id, next_retry_at
        FROM deliveries
        WHERE webhook_id = lane.webhook_id
          AND status = 'pending' AND NOT held AND parked AND NOT behind AND next_retry_at <= now()
        ORDER BY next_retry_at
        LIMIT lane.take
    ) p
    WHERE lane.has_parked AND lane.take > 0
), ranked AS MATERIALIZED (
    SELECT o.*, lane.take,
           row_number() OVER (PARTITION BY o.webhook_id ORDER BY o.next_retry_at, o.id) AS place
    FROM offered o
    JOIN lane USING (webhook_id)
), chosen AS MATERIALIZED (
    SELECT d.id
    FROM ranked r
    JOIN deliveries d ON d.ctid = r.ctid
    WHERE r.place <= r.take
      AND d.id = r.id
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
        lease_expires_at = now() + $6::bigint * interval '1 millisecond',
        parked = false,
        updated_at = now()
    FROM chosen
    WHERE d.id = chosen.id
    RETURNING d.id, d.webhook_id, d.tenant, d.event_id, d.attempts, d.budget_start, d.next_retry_at, d.ordering_key
), parking AS (
    UPDATE deliveries d
    SET parked = true
    FROM ranked r
    WHERE r.webhook_id = ANY ($5::uuid[]) AND NOT r.was_parked AND r.place > r.take
      AND d.ctid = r.ctid AND d.id = r.id
      AND d.status = 'pending' AND NOT d.held AND NOT d.parked AND NOT d.behind
    RETURNING d.webhook_id
), taken AS (
    SELECT webhook_id, count(*) AS n FROM claimed GROUP BY webhook_id
), lanes_moved AS (
    UPDATE lanes l
    SET next_slot = CASE WHEN lane.spacing_us > 0 AND taken.n > 0
                         THEN greatest(l.next_slot, now()) + taken.n * lane.spacing_us * interval '1 microsecond'
                         ELSE l.next_slot END,
        served_at = CASE WHEN lane.has_parked THEN now() ELSE l.served_at END,
        parked = EXISTS (SELECT 1 FROM parking WHERE parking.webhook_id = l.webhook_id)
                 OR (l.parked AND EXISTS (
                        SELECT 1 FROM deliveries p
                        WHERE p.webhook_id = l.webhook_id
                          AND p.status = 'pending' AND NOT p.held AND p.parked AND NOT p.behind
                          AND p.id NOT IN (SELECT id FROM chosen)))
    FROM lane
    LEFT JOIN taken USING (webhook_id)
    WHERE l.webhook_id = lane.webhook_id
      -- Only lanes with something to change: a rate-limited one that took
      -- rows, one with parked rows, one that parks now. The others (most)
      -- are not written at all.
      AND ((lane.spacing_us > 0 AND taken.n > 0) OR lane.has_parked OR lane.webhook_id = ANY ($5::uuid[]))
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
