-- hookrelay schema, version 5: a webhook's state binds every queued delivery.
--
-- Workers no longer carry a webhook's URL and secrets from the claim to the
-- send: they read them when the attempt starts, from a per-process cache that
-- is told of every change. `version` is what the cache compares: a trigger
-- bumps it whenever a column a send depends on changes (through the API or by
-- hand in psql alike) and announces the new version with NOTIFY, so every
-- process sharing the database drops what it had cached.
--
-- DELETE /webhooks/{id} becomes a tombstone (`deleted_at`): the request costs
-- time in proportion to the webhook's unfinished deliveries, and its finished
-- history is removed in the background, in batches.

ALTER TABLE webhooks
    ADD COLUMN version bigint NOT NULL DEFAULT 1,
    ADD COLUMN deleted_at timestamptz,
    ADD CONSTRAINT webhooks_deleted_is_disabled CHECK (deleted_at IS NULL OR NOT enabled);
COMMENT ON COLUMN webhooks.version IS 'Bumped (by trigger webhooks_version) whenever url, enabled, a secret or deleted_at changes; announced on channel hookrelay_webhooks so workers re-read the webhook before their next attempt.';
COMMENT ON COLUMN webhooks.deleted_at IS 'Set by DELETE /webhooks/{id}: the webhook is gone for the API and gets nothing more; its remaining deliveries are removed in the background, then the row.';

CREATE FUNCTION webhooks_bump_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.url, NEW.enabled, NEW.secret, NEW.previous_secret, NEW.previous_secret_expires_at, NEW.deleted_at)
       IS DISTINCT FROM
       (OLD.url, OLD.enabled, OLD.secret, OLD.previous_secret, OLD.previous_secret_expires_at, OLD.deleted_at)
    THEN
        NEW.version := OLD.version + 1;
    END IF;
    RETURN NEW;
END $$;
COMMENT ON FUNCTION webhooks_bump_version() IS 'Trigger webhooks_version: bumps version when a column that a send reads changes.';

CREATE FUNCTION webhooks_announce_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('hookrelay_webhooks', NEW.id::text || ' ' || NEW.version::text);
    RETURN NULL;
END $$;
COMMENT ON FUNCTION webhooks_announce_version() IS 'Trigger webhooks_announce: tells every listening hookrelay process, at commit, which webhook reached which version.';

CREATE TRIGGER webhooks_version BEFORE UPDATE ON webhooks
    FOR EACH ROW EXECUTE FUNCTION webhooks_bump_version();
CREATE TRIGGER webhooks_announce AFTER UPDATE ON webhooks
    FOR EACH ROW WHEN (OLD.version IS DISTINCT FROM NEW.version)
    EXECUTE FUNCTION webhooks_announce_version();

-- The fan-out's index leaves deleted webhooks out with the disabled ones (a
-- deleted webhook is disabled, by the CHECK above); lists leave them out too.
DROP INDEX webhooks_list;
CREATE INDEX webhooks_list ON webhooks (created_at DESC, id DESC) WHERE deleted_at IS NULL;
CREATE INDEX webhooks_deleted ON webhooks (deleted_at) WHERE deleted_at IS NOT NULL;

-- A webhook's unfinished deliveries, found without reading its history: held
-- or not, pending rows by webhook (disable, enable, delete, the reconcile of
-- held against enabled), and processing rows by webhook (disable, and DELETE's
-- wait for sends under way). Both indexes hold only unfinished rows, so they
-- stay as small as the queue. deliveries_pending replaces deliveries_held:
-- `held` leads, so held rows are still counted from their own range.
DROP INDEX deliveries_held;
CREATE INDEX deliveries_pending ON deliveries (held, webhook_id) WHERE status = 'pending';
DROP INDEX deliveries_leased;
CREATE INDEX deliveries_leased ON deliveries (webhook_id, lease_expires_at) WHERE status = 'processing';

-- The idempotency sweep reads keys by age.
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- Deleted webhooks leave the operator's view of health.
CREATE OR REPLACE VIEW webhook_health AS
SELECT w.id AS webhook_id, w.url, w.enabled,
       a.attempts_last_hour,
       round(a.successes_last_hour::numeric / nullif(a.attempts_last_hour, 0), 3) AS success_rate_last_hour,
       a.p50_ms_last_hour, a.p95_ms_last_hour,
       coalesce(f.consecutive_failures, 0) AS consecutive_failures,
       (SELECT count(*) FROM deliveries d WHERE d.webhook_id = w.id AND d.status = 'pending' AND d.held) AS held_deliveries
FROM webhooks w
LEFT JOIN LATERAL (
    SELECT count(*) AS attempts_last_hour,
           count(*) FILTER (WHERE at.status_code BETWEEN 200 AND 299) AS successes_last_hour,
           percentile_disc(0.5) WITHIN GROUP (ORDER BY at.duration_ms) AS p50_ms_last_hour,
           percentile_disc(0.95) WITHIN GROUP (ORDER BY at.duration_ms) AS p95_ms_last_hour
    FROM deliveries d
    JOIN delivery_attempts at ON at.delivery_id = d.id
    WHERE d.webhook_id = w.id AND at.started_at > now() - interval '1 hour'
) a ON true
LEFT JOIN LATERAL (
    SELECT count(*) AS consecutive_failures
    FROM deliveries d
    JOIN delivery_attempts at ON at.delivery_id = d.id
    WHERE d.webhook_id = w.id
      AND at.started_at > coalesce((
          SELECT max(s.started_at)
          FROM deliveries sd JOIN delivery_attempts s ON s.delivery_id = sd.id
          WHERE sd.webhook_id = w.id AND s.status_code BETWEEN 200 AND 299), '-infinity')
) f ON true
WHERE w.deleted_at IS NULL
ORDER BY w.created_at;
