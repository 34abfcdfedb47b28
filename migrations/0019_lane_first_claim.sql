-- hookrelay schema, version 19: the claim finds lanes first, then rows.
--
-- Version 13 walked one due index, oldest first, and parked the due rows of
-- lanes that had no room (a write per row), so later claims would not read
-- past them. A backlog made before its lane was blocked (a receiver that
-- trips under a million rows, a rate limit on a deep queue) was parked at
-- 30 µs a row before the claims reached anything behind it.
--
-- Now a claim sweeps the lanes that have pending rows, one descent of
-- deliveries_lane_due per lane, from where its last claim stopped (a skip
-- scan: sql/claim_lanes.sql), locks those with due work and room, and walks
-- each one's own rows (sql/claim_counts.sql). A blocked lane costs one
-- descent however deep its backlog, and nothing is written to step past it.
--
-- deliveries_retry_due serves the idle producer's question "when does the
-- next retry come due" (sql/next_due.sql). Fresh deliveries are due when
-- inserted and wake the producers themselves, so it holds only rows that have
-- been tried (attempts > 0): an insert writes one due index, as before.

DROP VIEW waiting_deliveries;
DROP FUNCTION delivery_waiting(text, boolean, boolean, boolean, timestamptz, uuid, text, bigint);

DROP INDEX deliveries_due;
DROP INDEX deliveries_parked;
DROP INDEX lanes_parked;
ALTER TABLE deliveries DROP COLUMN parked;
ALTER TABLE lanes DROP COLUMN parked, DROP COLUMN served_at;

CREATE INDEX deliveries_lane_due ON deliveries (webhook_id, next_retry_at)
    WHERE status = 'pending' AND NOT held AND NOT behind;
CREATE INDEX deliveries_retry_due ON deliveries (next_retry_at)
    WHERE status = 'pending' AND attempts > 0 AND NOT held AND NOT behind;
-- The idle producer's other questions: when a breaker's pause ends, and when
-- a rate-limited lane's next slot comes within a claim's second.
CREATE INDEX lanes_paused_until ON lanes (paused_until) WHERE paused_until IS NOT NULL;
CREATE INDEX lanes_next_slot ON lanes (next_slot);

COMMENT ON TABLE lanes IS 'A webhook''s place in the scheduler, shared by every process: its rate limit''s next slot and its circuit breaker. Locked by each claim that takes from it.';

-- Why a pending delivery waits, as every delivery read answers it: the
-- reason (null when it is due or being sent), and with it the delivery it is
-- behind (ordering) or the end of its webhook's pause (paused). Its own flags
-- say most; its lane is read only for a pending delivery, and its in-flight
-- attempts only for a due one. A webhook without max_in_flight of its own is
-- at the cap of the process that reads it (setting
-- hookrelay.max_in_flight_per_webhook, which hookrelay's connections carry;
-- a psql session without it sees `concurrency` only for webhooks with their
-- own max_in_flight), and a tenant at hookrelay.max_in_flight_per_tenant.
CREATE FUNCTION delivery_waiting(
    status text, held boolean, is_behind boolean, next_retry_at timestamptz,
    webhook_id uuid, tenant text, ordering_key text, ordering_seq bigint,
    OUT waiting_for text, OUT behind uuid, OUT paused_until timestamptz
) LANGUAGE sql STABLE AS $$
    SELECT waiting.reason,
           CASE WHEN waiting.reason = 'ordering' THEN (
               SELECT x.id
               FROM deliveries x
               WHERE x.webhook_id = delivery_waiting.webhook_id
                 AND x.ordering_key = delivery_waiting.ordering_key
                 AND x.ordering_seq < delivery_waiting.ordering_seq
                 AND x.status IN ('pending', 'processing')
               ORDER BY x.ordering_seq DESC
               LIMIT 1) END,
           CASE WHEN waiting.reason = 'paused' THEN lane.paused_until END
    FROM (SELECT 1) one
    LEFT JOIN (
        SELECT l.paused_until, l.next_slot, w.rate_limit,
               coalesce(w.max_in_flight,
                        nullif(current_setting('hookrelay.max_in_flight_per_webhook', true), '')::int)
                   AS cap
        FROM lanes l
        JOIN webhooks w ON w.id = l.webhook_id
        WHERE l.webhook_id = delivery_waiting.webhook_id AND delivery_waiting.status = 'pending'
    ) lane ON true
    CROSS JOIN LATERAL (
        SELECT CASE
            WHEN delivery_waiting.status <> 'pending' THEN NULL
            WHEN delivery_waiting.held THEN 'held'
            WHEN delivery_waiting.is_behind THEN 'ordering'
            WHEN delivery_waiting.next_retry_at > now() THEN 'retry'
            WHEN lane.paused_until > now() THEN 'paused'
            WHEN lane.rate_limit IS NOT NULL AND lane.next_slot > now() THEN 'rate_limit'
            WHEN (SELECT count(*) FROM deliveries x
                  WHERE x.webhook_id = delivery_waiting.webhook_id
                    AND x.status = 'processing') >= lane.cap THEN 'concurrency'
            WHEN delivery_waiting.tenant <> 'default'
                 AND (SELECT count(*) FROM deliveries x
                      WHERE x.tenant = delivery_waiting.tenant AND x.status = 'processing'
                        AND x.tenant <> 'default')
                     >= nullif(current_setting('hookrelay.max_in_flight_per_tenant', true), '')::int
                 THEN 'concurrency'
        END AS reason
    ) waiting
$$;
COMMENT ON FUNCTION delivery_waiting(text, boolean, boolean, timestamptz, uuid, text, text, bigint) IS 'What holds a pending delivery: held (webhook disabled), ordering (behind: the unfinished delivery just ahead of it under its key), retry (until next_retry_at), paused (the breaker, until paused_until), rate_limit, concurrency (max_in_flight or the tenant''s cap); null when due or being sent.';

CREATE VIEW waiting_deliveries AS
SELECT d.id, d.webhook_id, d.tenant, d.ordering_key, d.next_retry_at, w.*
FROM deliveries d
CROSS JOIN LATERAL delivery_waiting(d.status, d.held, d.behind, d.next_retry_at,
                                    d.webhook_id, d.tenant, d.ordering_key, d.ordering_seq) w
WHERE d.status = 'pending';
COMMENT ON VIEW waiting_deliveries IS 'Every pending delivery and what holds it (waiting_for; behind: the delivery it waits for under its ordering key; paused_until: the end of its webhook''s breaker pause).';
