-- hookrelay schema, version 1.
--
-- Applied once by `hookrelay migrate` (or at start of `serve`) under an advisory
-- lock, inside one transaction. The deliveries table is the queue: a worker
-- claims due rows with FOR UPDATE SKIP LOCKED, so there is no other broker.

CREATE TABLE webhooks (
    id                         uuid PRIMARY KEY,
    url                        text NOT NULL CHECK (length(url) <= 2048),
    event_types                text[] NOT NULL CHECK (cardinality(event_types) BETWEEN 1 AND 100),
    description                text,
    enabled                    boolean NOT NULL DEFAULT true,
    secret                     text NOT NULL,
    previous_secret            text,
    previous_secret_expires_at timestamptz,
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE webhooks IS 'Receivers registered by clients: where to send which event types, and how to sign.';
COMMENT ON COLUMN webhooks.id IS 'Public id of the webhook.';
COMMENT ON COLUMN webhooks.url IS 'Absolute http(s) URL every attempt is POSTed to; a change applies to the next attempt of pending deliveries.';
COMMENT ON COLUMN webhooks.event_types IS 'Event types this webhook receives, or {*} for every type.';
COMMENT ON COLUMN webhooks.description IS 'Free text from the client.';
COMMENT ON COLUMN webhooks.enabled IS 'false: no new deliveries are created and pending ones are held (deliveries.held).';
COMMENT ON COLUMN webhooks.secret IS 'Signing secret, whsec_ + base64. Never shown in lists or logs.';
COMMENT ON COLUMN webhooks.previous_secret IS 'The secret before the last rotation; deliveries are signed with it too until previous_secret_expires_at.';
COMMENT ON COLUMN webhooks.previous_secret_expires_at IS 'When signing with previous_secret stops (24 hours after a rotation).';
COMMENT ON COLUMN webhooks.created_at IS 'When the webhook was registered.';
COMMENT ON COLUMN webhooks.updated_at IS 'When the webhook was last changed.';

-- Fan-out looks up webhooks by event type with `event_types && ARRAY[type, '*']`.
CREATE INDEX webhooks_event_types ON webhooks USING gin (event_types) WHERE enabled;
CREATE INDEX webhooks_list ON webhooks (created_at DESC, id DESC);

CREATE TABLE events (
    id         uuid PRIMARY KEY,
    type       text NOT NULL,
    payload    jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE events IS 'Events emitted by clients; each is fanned out to deliveries when it is inserted.';
COMMENT ON COLUMN events.id IS 'Public id of the event.';
COMMENT ON COLUMN events.type IS 'Event type, matched against webhooks.event_types.';
COMMENT ON COLUMN events.payload IS 'The JSON sent as the body of every delivery of this event.';
COMMENT ON COLUMN events.created_at IS 'When the event was accepted (start of end-to-end latency).';

CREATE INDEX events_list ON events (created_at DESC, id DESC);
CREATE INDEX events_by_type ON events (type, created_at DESC, id DESC);

CREATE TABLE idempotency_keys (
    key        text PRIMARY KEY,
    event_id   uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE idempotency_keys IS 'Idempotency-Key headers of POST /events; a key seen in the last 24 hours answers with its event.';
COMMENT ON COLUMN idempotency_keys.key IS 'The header value as the client sent it.';
COMMENT ON COLUMN idempotency_keys.event_id IS 'The event the key created.';
COMMENT ON COLUMN idempotency_keys.created_at IS 'When the key was first seen; older than 24 hours, it may be reused.';

CREATE TABLE deliveries (
    id               uuid PRIMARY KEY,
    webhook_id       uuid NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id         uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'processing', 'success', 'failed')),
    held             boolean NOT NULL DEFAULT false,
    attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    budget_start     integer NOT NULL DEFAULT 0 CHECK (budget_start >= 0 AND budget_start <= attempts),
    next_retry_at    timestamptz NOT NULL DEFAULT now(),
    lease_expires_at timestamptz,
    last_status_code integer,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    completed_at     timestamptz,
    CHECK ((status = 'processing') = (lease_expires_at IS NOT NULL)),
    CHECK ((status IN ('success', 'failed')) = (completed_at IS NOT NULL))
);
COMMENT ON TABLE deliveries IS 'One event for one webhook, and the queue itself: workers claim due pending rows with FOR UPDATE SKIP LOCKED.';
COMMENT ON COLUMN deliveries.id IS 'Public id; sent as webhook-id and X-Delivery-ID on every attempt so receivers can drop duplicates.';
COMMENT ON COLUMN deliveries.webhook_id IS 'The receiving webhook.';
COMMENT ON COLUMN deliveries.event_id IS 'The event delivered.';
COMMENT ON COLUMN deliveries.status IS 'pending (due at next_retry_at) -> processing (claimed, leased) -> success, or back to pending, or failed (dead letter).';
COMMENT ON COLUMN deliveries.held IS 'true while the webhook is disabled: the row stays pending but is not claimed.';
COMMENT ON COLUMN deliveries.attempts IS 'Attempts started so far, over every retry budget. Also the lease token: a completion must name the attempt it claimed.';
COMMENT ON COLUMN deliveries.budget_start IS 'Value of attempts when the current retry budget began (0, or when a retry was requested).';
COMMENT ON COLUMN deliveries.next_retry_at IS 'When a pending delivery is due.';
COMMENT ON COLUMN deliveries.lease_expires_at IS 'While processing: when the claim lapses and the rescuer hands the row back.';
COMMENT ON COLUMN deliveries.last_status_code IS 'HTTP status of the last attempt, if the receiver answered.';
COMMENT ON COLUMN deliveries.last_error IS 'Why the last attempt failed, if it did.';
COMMENT ON COLUMN deliveries.created_at IS 'When the event was fanned out to this webhook.';
COMMENT ON COLUMN deliveries.updated_at IS 'Last change of state; for processing rows, when the claim was taken.';
COMMENT ON COLUMN deliveries.completed_at IS 'When the delivery reached success or failed.';

-- Serves exactly the claim query (sql/claim_due.sql) and the next-due lookup:
-- finished and held rows are kept out of it, so it stays small however large the table grows.
CREATE INDEX deliveries_due ON deliveries (next_retry_at) WHERE status = 'pending' AND NOT held;
-- Serves the rescuer (sql/rescue_expired.sql).
CREATE INDEX deliveries_leased ON deliveries (lease_expires_at) WHERE status = 'processing';
CREATE INDEX deliveries_list ON deliveries (created_at DESC, id DESC);
CREATE INDEX deliveries_by_webhook ON deliveries (webhook_id, created_at DESC, id DESC);
CREATE INDEX deliveries_by_event ON deliveries (event_id);
CREATE INDEX deliveries_failed ON deliveries (webhook_id, completed_at) WHERE status = 'failed';

-- The hot queue table churns: vacuum it early so dead tuples do not pile up under the claim index.
ALTER TABLE deliveries SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_analyze_scale_factor = 0.02);

CREATE TABLE delivery_attempts (
    delivery_id   uuid NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    attempt       integer NOT NULL,
    started_at    timestamptz NOT NULL,
    duration_ms   integer,
    status_code   integer,
    error         text,
    response_body text,
    PRIMARY KEY (delivery_id, attempt)
);
COMMENT ON TABLE delivery_attempts IS 'One row per attempt of a delivery: what the receiver answered, or why it could not.';
COMMENT ON COLUMN delivery_attempts.delivery_id IS 'The delivery attempted.';
COMMENT ON COLUMN delivery_attempts.attempt IS 'Attempt number, 1-based, the value of deliveries.attempts when it was claimed.';
COMMENT ON COLUMN delivery_attempts.started_at IS 'When the request was started.';
COMMENT ON COLUMN delivery_attempts.duration_ms IS 'Time to the answer or the failure; null when the worker was lost.';
COMMENT ON COLUMN delivery_attempts.status_code IS 'HTTP status, if the receiver answered.';
COMMENT ON COLUMN delivery_attempts.error IS 'Why the attempt failed without a 2xx (timeout, refused, lease lost, ...).';
COMMENT ON COLUMN delivery_attempts.response_body IS 'First 4 KiB of the response body.';
