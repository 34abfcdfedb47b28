-- hookrelay schema, version 12: deliveries keep their webhook and event ids
-- without foreign keys.
--
-- Each of the two constraints ran a trigger for every delivery the fan-out
-- inserted: a look-up of the parent row, which it also locked. Measured with
-- callgrind on POST /events' statement (batches of ten events, one delivery
-- each), the two checks were a quarter of the statement's instructions. They
-- also planned their look-up once per connection: a connection that first
-- checked when `events` had just been vacuumed down to nothing planned a
-- sequential scan, and every delivery it inserted afterwards read the whole
-- table.
--
-- What the constraints guarded is kept by the statements themselves:
-- - A delivery is only ever inserted by the statement that inserts its event
--   (event_insert.sql, webhook_test_event.sql), for a webhook that statement
--   holds FOR SHARE and finds enabled. Deleting a webhook disables it first
--   (webhook_delete.sql, tenant_delete_webhooks.sql), so no delivery is made
--   for it afterwards.
-- - Parents are removed only when no delivery is left: webhook_purge.sql and
--   retention_events.sql (NOT EXISTS on deliveries), after
--   webhook_purge_deliveries.sql and retention_deliveries.sql removed theirs.
--   Nothing relied on ON DELETE CASCADE from webhooks or events.
--
-- By hand in psql, delete deliveries before their event or webhook: nothing
-- stops the other order any more.

ALTER TABLE deliveries
    DROP CONSTRAINT deliveries_webhook_id_fkey,
    DROP CONSTRAINT deliveries_event_id_fkey;

COMMENT ON COLUMN deliveries.webhook_id IS 'The webhook it is sent to (webhooks.id). Not a foreign key: the statements that insert and purge keep it valid (migration 0012).';
COMMENT ON COLUMN deliveries.event_id IS 'The event it carries (events.id). Not a foreign key: the statements that insert and purge keep it valid (migration 0012).';
