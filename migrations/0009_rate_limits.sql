-- hookrelay schema, version 9: per-webhook rate limits that hold across every
-- process sharing the database.
--
-- A limit of r attempts per second is kept as a schedule of slots 1/r apart
-- (the generic cell rate algorithm): each attempt to a limited webhook takes
-- the next free slot from webhook_rate_slots in one statement (which every
-- process shares, so the limit is global) and starts when its slot comes. The
-- queue itself stays out of it: waiting deliveries are neither failed nor
-- counted, and the due rows of a limited webhook that claims would read past
-- are moved to the times their slots are expected (sql/defer_paused.sql).

ALTER TABLE webhooks
    ADD COLUMN rate_limit integer CHECK (rate_limit > 0);
COMMENT ON COLUMN webhooks.rate_limit IS 'At most this many attempts per second to this webhook, across every process; null: no limit.';

CREATE OR REPLACE FUNCTION webhooks_bump_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.url, NEW.enabled, NEW.secret, NEW.previous_secret, NEW.previous_secret_expires_at,
        NEW.deleted_at, NEW.headers, NEW.rate_limit)
       IS DISTINCT FROM
       (OLD.url, OLD.enabled, OLD.secret, OLD.previous_secret, OLD.previous_secret_expires_at,
        OLD.deleted_at, OLD.headers, OLD.rate_limit)
    THEN
        NEW.version := OLD.version + 1;
    END IF;
    RETURN NEW;
END $$;

CREATE TABLE webhook_rate_slots (
    webhook_id uuid PRIMARY KEY REFERENCES webhooks (id) ON DELETE CASCADE,
    next_slot  timestamptz NOT NULL
);
COMMENT ON TABLE webhook_rate_slots IS 'For each rate-limited webhook, the next free send slot: an attempt takes it and moves it 1/rate_limit later.';
COMMENT ON COLUMN webhook_rate_slots.webhook_id IS 'The rate-limited webhook.';
COMMENT ON COLUMN webhook_rate_slots.next_slot IS 'The earliest time the next attempt may start; in the past when the webhook has been quiet.';
