-- hookrelay schema, version 4: every count of the queue goes through the partial
-- indexes that the queue itself uses.
--
-- deliveries_unfinished (status, for every row not 'success') was there for
-- counts, but the planner also took it for the queue's own statements whenever
-- its statistics said no row was pending (they often do: the queue fills and
-- empties between two ANALYZEs). With 5 million finished rows the claim looked
-- its locked rows up by walking the pending entries of that index instead of
-- by primary key, and the idle check counted every pending row instead of
-- reading the head of deliveries_due: 10 ms per claim. Counts now read
-- deliveries_due, deliveries_leased, deliveries_failed and, for the rare held
-- rows, deliveries_held; every write of the queue updates one index less.

DROP INDEX deliveries_unfinished;

-- Held rows (of disabled webhooks) are few; counting them needs their own index.
CREATE INDEX deliveries_held ON deliveries (webhook_id) WHERE status = 'pending' AND held;

CREATE OR REPLACE VIEW queue_overview AS
SELECT
    (SELECT count(*) FROM deliveries
     WHERE status = 'pending' AND NOT held AND next_retry_at <= now())                  AS due_now,
    (SELECT count(*) FROM deliveries
     WHERE status = 'pending' AND NOT held AND next_retry_at > now())                   AS scheduled_later,
    (SELECT count(*) FROM deliveries WHERE status = 'pending' AND held)                 AS held,
    (SELECT count(*) FROM deliveries WHERE status = 'processing')                       AS processing,
    (SELECT count(*) FROM deliveries WHERE status = 'failed')                           AS failed,
    (SELECT round(extract(epoch FROM now() - min(next_retry_at))::numeric, 3)
     FROM deliveries
     WHERE status = 'pending' AND NOT held AND next_retry_at <= now())                  AS oldest_due_age_seconds;
