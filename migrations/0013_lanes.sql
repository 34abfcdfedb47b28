-- hookrelay schema, version 13: one scheduling model, kept in the database,
-- so that every limit holds across all processes sharing it.
--
-- A webhook is a lane: `lanes` holds what the claim needs to know of it that
-- is not a delivery (its breaker, its rate limit's next slot, whether rows of
-- its backlog are parked). A claim locks the lanes it takes from (FOR UPDATE
-- SKIP LOCKED, so claimers pass each other), counts what each has in flight
-- with a fresh snapshot, and takes no more than each lane has room for
-- (src/queue/claim.rs, sql/claim_*.sql). Nothing is counted in memory.
--
-- Due rows of a lane that has no room (at max_in_flight, rate-limited,
-- paused) are parked the first time a claim meets them: they leave index
-- deliveries_due, so no claim reads past them again, and wait in
-- deliveries_parked, from which claims take them, lane by lane, while the
-- lane has room. A backlog of any size at a limited webhook then costs the
-- others nothing.
--
-- Ordering keys: the deliveries of events that share an ordering key (per
-- webhook, within a tenant) form a sequence (ordering_seq). Only its first
-- unfinished member is ever due; the ones after it are `behind`, in no due
-- index at all, until the completion that finishes the one ahead moves the
-- next forward (sql/ordering_next.sql).

ALTER TABLE webhooks
    ADD COLUMN max_in_flight integer CHECK (max_in_flight BETWEEN 1 AND 1000);
COMMENT ON COLUMN webhooks.max_in_flight IS 'At most this many attempts to this webhook under way at once, across every process; null: HOOKRELAY_MAX_IN_FLIGHT_PER_WEBHOOK.';

ALTER TABLE events
    ADD COLUMN ordering_key text CHECK (length(ordering_key) BETWEEN 1 AND 256);
COMMENT ON COLUMN events.ordering_key IS 'Events of one tenant that share it reach each webhook one at a time, in the order they were accepted.';

CREATE SEQUENCE delivery_order;
COMMENT ON SEQUENCE delivery_order IS 'The order of deliveries that carry an ordering key: taken when they are inserted.';

ALTER TABLE deliveries
    ADD COLUMN ordering_key text,
    ADD COLUMN ordering_seq bigint,
    ADD COLUMN behind boolean NOT NULL DEFAULT false,
    ADD COLUMN parked boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN deliveries.ordering_key IS 'The event''s ordering key, if it has one.';
COMMENT ON COLUMN deliveries.ordering_seq IS 'Place in its (webhook, ordering key) sequence; null without a key, and after a retry by hand (which is sent ahead of nothing).';
COMMENT ON COLUMN deliveries.behind IS 'true: waits for an earlier delivery of its sequence to succeed or fail; not due until then.';
COMMENT ON COLUMN deliveries.parked IS 'true: due, but its webhook had no room when a claim met it; waits in deliveries_parked, off the due index.';

DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON deliveries (next_retry_at)
    WHERE status = 'pending' AND NOT held AND NOT parked AND NOT behind;
CREATE INDEX deliveries_parked ON deliveries (webhook_id, next_retry_at)
    WHERE status = 'pending' AND NOT held AND parked AND NOT behind;
CREATE INDEX deliveries_sequence ON deliveries (webhook_id, ordering_key, ordering_seq)
    WHERE ordering_seq IS NOT NULL AND status IN ('pending', 'processing');
-- A tenant's attempts under way, counted by the claim: only tenants with a cap.
CREATE INDEX deliveries_leased_by_tenant ON deliveries (tenant)
    WHERE status = 'processing' AND tenant <> 'default';

CREATE TABLE lanes (
    webhook_id   uuid PRIMARY KEY REFERENCES webhooks (id) ON DELETE CASCADE,
    next_slot    timestamptz NOT NULL DEFAULT '-infinity',
    failures     integer NOT NULL DEFAULT 0,
    trips        integer NOT NULL DEFAULT 0,
    paused_until timestamptz,
    parked       boolean NOT NULL DEFAULT false,
    served_at    timestamptz NOT NULL DEFAULT '-infinity'
);
COMMENT ON TABLE lanes IS 'A webhook''s place in the scheduler, shared by every process: its rate limit''s next slot, its circuit breaker, whether it has parked rows. Locked by each claim that takes from it.';
COMMENT ON COLUMN lanes.next_slot IS 'Rate limit: the earliest start of the next attempt; claims take slots 1/rate_limit apart, at most a second ahead.';
COMMENT ON COLUMN lanes.failures IS 'Attempts in a row whose receiver looked down (refused, timed out, 5xx, 429).';
COMMENT ON COLUMN lanes.trips IS 'Breaker trips since the last healthy answer; above 0, one attempt at a time probes the receiver.';
COMMENT ON COLUMN lanes.paused_until IS 'The breaker pauses the webhook''s deliveries until then (no attempt, none counted).';
COMMENT ON COLUMN lanes.parked IS 'true: some of its due deliveries are parked (deliveries.parked).';
COMMENT ON COLUMN lanes.served_at IS 'When a claim last took parked rows from it: parked lanes are served least recently served first.';
CREATE INDEX lanes_parked ON lanes (served_at) WHERE parked;

INSERT INTO lanes (webhook_id) SELECT id FROM webhooks;

CREATE FUNCTION webhooks_lane() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO lanes (webhook_id) VALUES (NEW.id);
    RETURN NULL;
END $$;
CREATE TRIGGER webhooks_lane AFTER INSERT ON webhooks
    FOR EACH ROW EXECUTE FUNCTION webhooks_lane();

DROP TABLE webhook_rate_slots;

-- Why a pending delivery waits, as every delivery read answers it: the
-- reason (null when it is due or being sent), and with it the delivery it is
-- behind (ordering) or the end of its webhook's pause (paused). Its own flags
-- say most; its lane is read only for a pending delivery.
CREATE FUNCTION delivery_waiting(
    status text, held boolean, is_behind boolean, parked boolean, next_retry_at timestamptz,
    webhook_id uuid, ordering_key text, ordering_seq bigint,
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
        SELECT l.paused_until, l.next_slot, w.rate_limit
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
            WHEN delivery_waiting.parked THEN 'concurrency'
        END AS reason
    ) waiting
$$;
COMMENT ON FUNCTION delivery_waiting(text, boolean, boolean, boolean, timestamptz, uuid, text, bigint) IS 'What holds a pending delivery: held (webhook disabled), ordering (behind: the unfinished delivery just ahead of it under its key), retry (until next_retry_at), paused (the breaker, until paused_until), rate_limit, concurrency (max_in_flight or the tenant''s cap); null when due or being sent.';

CREATE VIEW waiting_deliveries AS
SELECT d.id, d.webhook_id, d.tenant, d.ordering_key, d.next_retry_at, w.*
FROM deliveries d
CROSS JOIN LATERAL delivery_waiting(d.status, d.held, d.behind, d.parked, d.next_retry_at,
                                    d.webhook_id, d.ordering_key, d.ordering_seq) w
WHERE d.status = 'pending';
COMMENT ON VIEW waiting_deliveries IS 'Every pending delivery and what holds it (waiting_for; behind: the delivery it waits for under its ordering key; paused_until: the end of its webhook''s breaker pause).';
