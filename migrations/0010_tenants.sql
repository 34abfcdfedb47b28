-- hookrelay schema, version 10: tenants.
--
-- A tenant is one of the operator's customers, named by the operator's own key.
-- Every webhook, event, delivery and idempotency key belongs to one, and keeps
-- its key in a column of its own, so that every statement a tenant's request
-- runs can be routed by it (a distributed Postgres that shards by tenant could
-- hold these tables with `tenant` as the distribution column). Tenant `default`
-- always exists; everything that existed before this migration is its own.
--
-- What this costs an install with a large history, table by table:
--
-- - webhooks, events, deliveries, idempotency_keys: `ADD COLUMN tenant text NOT
--   NULL DEFAULT 'default'` is a catalog change on PostgreSQL 11 and later (the
--   default is stored once, not written into every row): no rewrite, whatever
--   the size. The default stays: rows written by hand, or by an older binary
--   during a rolling upgrade, land in `default`, as they did before.
-- - deliveries: no key and no index changes. Its primary key stays `id`, and
--   tenant-scoped reads of deliveries go through the tenant's webhooks
--   (deliveries_by_webhook, which exists), so the hot queue table gets no new
--   index: an index on deliveries costs every claim and every completion a write.
-- - events: one new index, events_by_tenant, which tenant-scoped lists need
--   (walking events_list for one tenant among thousands would read them all).
--   Building it reads and sorts the table once, while writes to events wait:
--   on a large install, this migration holds POST /events for that long (run
--   `hookrelay migrate` in a quiet hour; a delivery already queued is not held).
-- - idempotency_keys: the primary key becomes (tenant, key). The table holds
--   24 hours of keys, so this rebuild is bounded by a day's events.
-- - webhooks: small; rewritten once for its fan-out keys, and its fan-out
--   index rebuilt on them.

CREATE TABLE tenants (
    key        text PRIMARY KEY CHECK (key ~ '^[A-Za-z0-9._:-]{1,64}$'),
    name       text CHECK (char_length(name) <= 256),
    metadata   jsonb NOT NULL DEFAULT '{}'
               CHECK (jsonb_typeof(metadata) = 'object' AND octet_length(metadata::text) <= 4096),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    CONSTRAINT tenants_default_stays CHECK (key <> 'default' OR deleted_at IS NULL)
);
COMMENT ON TABLE tenants IS 'The operator''s customers (PUT /tenants/{key}): each owns webhooks, events and deliveries, and sees only its own. Tenant default always exists.';
COMMENT ON COLUMN tenants.key IS 'The operator''s own name for the customer (its customer id): 1-64 characters of A-Z a-z 0-9 . _ : -.';
COMMENT ON COLUMN tenants.name IS 'Free text for people.';
COMMENT ON COLUMN tenants.metadata IS 'The operator''s own JSON object about the tenant, at most 4 KiB.';
COMMENT ON COLUMN tenants.created_at IS 'When the tenant was created; GET /tenants lists newest first.';
COMMENT ON COLUMN tenants.updated_at IS 'When name or metadata last changed.';
COMMENT ON COLUMN tenants.deleted_at IS 'Set by DELETE /tenants/{key}: the tenant is gone for the API, its webhooks are deleted like DELETE /webhooks/{id}; its rows are removed in the background, then this row.';

INSERT INTO tenants (key, name) VALUES ('default', 'The default tenant: what names no tenant belongs here.');

CREATE INDEX tenants_list ON tenants (created_at DESC, key DESC) WHERE deleted_at IS NULL;
CREATE INDEX tenants_deleted ON tenants (deleted_at) WHERE deleted_at IS NOT NULL;

CREATE TABLE tenant_tokens (
    hash       bytea PRIMARY KEY CHECK (octet_length(hash) = 32),
    tenant     text NOT NULL REFERENCES tenants (key) ON DELETE CASCADE,
    kind       text NOT NULL CHECK (kind IN ('api', 'portal')),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
COMMENT ON TABLE tenant_tokens IS 'Bearer tokens that act as one tenant (POST /tenants/{key}/tokens and /portal). The token itself is shown once and never stored.';
COMMENT ON COLUMN tenant_tokens.hash IS 'SHA-256 of the whole token (hrt_...). A token is 32 random bytes, so a plain hash is enough: there is nothing to guess.';
COMMENT ON COLUMN tenant_tokens.tenant IS 'The tenant the token acts as.';
COMMENT ON COLUMN tenant_tokens.kind IS 'api: made by POST /tenants/{key}/tokens; portal: the token of a portal link. Both grant the same.';
COMMENT ON COLUMN tenant_tokens.created_at IS 'When the token was made.';
COMMENT ON COLUMN tenant_tokens.expires_at IS 'After this the token is refused (401). Expired rows are removed by the retention sweep.';

-- DELETE /tenants/{key}/tokens revokes a tenant's tokens; the sweep removes expired ones.
CREATE INDEX tenant_tokens_tenant ON tenant_tokens (tenant);
CREATE INDEX tenant_tokens_expires ON tenant_tokens (expires_at);

ALTER TABLE webhooks ADD COLUMN tenant text NOT NULL DEFAULT 'default' REFERENCES tenants (key);
COMMENT ON COLUMN webhooks.tenant IS 'The tenant that owns the webhook: it gets that tenant''s events only.';

ALTER TABLE events ADD COLUMN tenant text NOT NULL DEFAULT 'default';
COMMENT ON COLUMN events.tenant IS 'The tenant the event was emitted for: it fans out to that tenant''s webhooks only. No foreign key: ingest checks the tenant in its own statement, without a lock per event.';

ALTER TABLE deliveries ADD COLUMN tenant text NOT NULL DEFAULT 'default';
COMMENT ON COLUMN deliveries.tenant IS 'The tenant of the event and of the webhook (always the same one), copied at fan-out so a delivery is routed by tenant like the rest.';

ALTER TABLE idempotency_keys ADD COLUMN tenant text NOT NULL DEFAULT 'default';
COMMENT ON COLUMN idempotency_keys.tenant IS 'The tenant of the event: the same key in two tenants names two events.';
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
ALTER TABLE idempotency_keys ADD PRIMARY KEY (tenant, key);

-- Fan-out: a tenant's enabled webhooks subscribed to a type, found by one
-- GIN key per (tenant, type) pair, so an event reads only the webhooks it
-- goes to, however many tenants (and webhooks of other types) there are.
-- The keys are a stored column, computed when a webhook is written (rarely):
-- an index on the function itself made the fan-out call it for every event
-- and webhook it matched (8 us a call, 0.27 ms of a 4 ms batch of 32 events).
-- fastupdate off: webhooks are written rarely, and a GIN pending list (where
-- fastupdate parks new entries until vacuum) is read whole by every lookup:
-- 20,000 webhooks registered since the last vacuum cost each event 1.2 ms.
CREATE FUNCTION tenant_event_types(tenant text, event_types text[]) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT ARRAY(SELECT tenant || '/' || t FROM unnest(event_types) AS t) $$;
COMMENT ON FUNCTION tenant_event_types(text, text[]) IS 'A webhook''s subscriptions as tenant/type keys (neither a tenant key nor a type holds a /): what webhooks.fanout_keys holds.';

ALTER TABLE webhooks
    ADD COLUMN fanout_keys text[] NOT NULL GENERATED ALWAYS AS (tenant_event_types(tenant, event_types)) STORED;
COMMENT ON COLUMN webhooks.fanout_keys IS 'tenant/type for each of event_types (tenant/* for the wildcard), kept by Postgres: what the fan-out looks webhooks up by (index webhooks_fanout).';

DROP INDEX webhooks_event_types;
CREATE INDEX webhooks_fanout ON webhooks USING gin (fanout_keys) WITH (fastupdate = off) WHERE enabled;
-- GET /webhooks?tenant= and a tenant token's list; DELETE /tenants/{key}, a
-- tenant's deliveries (through its webhooks) and the tenant purge. Deleted
-- webhooks are in it too, until purged: the purge and the delivery list need them.
CREATE INDEX webhooks_by_tenant ON webhooks (tenant, created_at DESC, id DESC);

CREATE INDEX events_by_tenant ON events (tenant, created_at DESC, id DESC);

-- The views gain the tenant (as their last column: CREATE OR REPLACE keeps the others).
CREATE OR REPLACE VIEW stuck_deliveries AS
SELECT d.id, d.webhook_id, w.url, d.attempts, d.updated_at AS claimed_at, d.lease_expires_at,
       round(extract(epoch FROM now() - d.lease_expires_at)::numeric, 3) AS overdue_seconds,
       d.tenant
FROM deliveries d
JOIN webhooks w ON w.id = d.webhook_id
WHERE d.status = 'processing' AND d.lease_expires_at < now()
ORDER BY d.lease_expires_at;
COMMENT ON COLUMN stuck_deliveries.tenant IS 'The tenant of the delivery.';

CREATE OR REPLACE VIEW recent_failures AS
SELECT d.id, d.webhook_id, w.url, e.type AS event_type, d.attempts, d.last_status_code,
       d.last_error, d.completed_at AS failed_at, d.tenant
FROM deliveries d
JOIN webhooks w ON w.id = d.webhook_id
JOIN events e ON e.id = d.event_id
WHERE d.status = 'failed'
ORDER BY d.completed_at DESC;
COMMENT ON COLUMN recent_failures.tenant IS 'The tenant of the delivery.';

CREATE OR REPLACE VIEW webhook_health AS
SELECT w.id AS webhook_id, w.url, w.enabled,
       a.attempts_last_hour,
       round(a.successes_last_hour::numeric / nullif(a.attempts_last_hour, 0), 3) AS success_rate_last_hour,
       a.p50_ms_last_hour, a.p95_ms_last_hour,
       coalesce(f.consecutive_failures, 0) AS consecutive_failures,
       (SELECT count(*) FROM deliveries d WHERE d.webhook_id = w.id AND d.status = 'pending' AND d.held) AS held_deliveries,
       w.tenant
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
COMMENT ON COLUMN webhook_health.tenant IS 'The tenant that owns the webhook.';

-- One row per tenant with anything unfinished: which customer's queue is deep.
-- Reads only unfinished deliveries (the queue's partial indexes), never the history.
CREATE VIEW tenant_queue AS
SELECT d.tenant,
       count(*) FILTER (WHERE d.status = 'pending' AND NOT d.held AND d.next_retry_at <= now()) AS due_now,
       count(*) FILTER (WHERE d.status = 'pending' AND NOT d.held AND d.next_retry_at > now())  AS scheduled_later,
       count(*) FILTER (WHERE d.status = 'pending' AND d.held)                                  AS held,
       count(*) FILTER (WHERE d.status = 'processing')                                          AS processing,
       round(extract(epoch FROM now() - min(d.next_retry_at)
             FILTER (WHERE d.status = 'pending' AND NOT d.held AND d.next_retry_at <= now()))::numeric, 3)
                                                                                                AS oldest_due_age_seconds
FROM deliveries d
WHERE d.status IN ('pending', 'processing')
GROUP BY d.tenant
ORDER BY due_now DESC, d.tenant;
COMMENT ON VIEW tenant_queue IS 'The queue by tenant: one row per tenant with pending or processing deliveries, deepest first. /metrics has no tenant label (there may be a hundred thousand tenants); this is where to look.';
COMMENT ON COLUMN tenant_queue.tenant IS 'The tenant.';
COMMENT ON COLUMN tenant_queue.due_now IS 'Its pending deliveries due now.';
COMMENT ON COLUMN tenant_queue.scheduled_later IS 'Its pending deliveries waiting for a retry.';
COMMENT ON COLUMN tenant_queue.held IS 'Its pending deliveries held (disabled webhooks).';
COMMENT ON COLUMN tenant_queue.processing IS 'Its deliveries being sent right now.';
COMMENT ON COLUMN tenant_queue.oldest_due_age_seconds IS 'How long its oldest due delivery has waited.';
