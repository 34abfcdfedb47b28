-- hookrelay schema, version 6: the event-type catalog.
--
-- The operator may describe the event types it sends, give each a JSON Schema
-- its payloads must satisfy, and archive the ones it no longer sends. Ingest
-- consults the catalog for every event, so each process keeps it in memory,
-- schemas compiled (src/catalog.rs); a trigger NOTIFYs every change, so each
-- process drops what it had cached of a type as soon as the change commits,
-- whoever made it (an API, another process, psql). An INSERT notifies too: a
-- process may have cached that the type was not in the catalog.

CREATE TABLE event_types (
    name        text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9._:-]{1,128}$'),
    description text CHECK (char_length(description) <= 1024),
    schema      jsonb,
    archived    boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE event_types IS 'The event-type catalog (PUT /event-types/{type}): the types the operator sends, with an optional JSON Schema that POST /events holds payloads to. Every change is announced on channel hookrelay_event_types (trigger event_types_announce).';
COMMENT ON COLUMN event_types.name IS 'The event type, as events and webhooks name it (no wildcard).';
COMMENT ON COLUMN event_types.description IS 'Free text for people, at most 1024 characters.';
COMMENT ON COLUMN event_types.schema IS 'A JSON Schema (2020-12) every payload of this type must satisfy; null: any payload. Checked as a schema by the API before it is stored.';
COMMENT ON COLUMN event_types.archived IS 'No longer sent: with HOOKRELAY_REQUIRE_EVENT_TYPES, events and new subscriptions of this type are refused.';
COMMENT ON COLUMN event_types.created_at IS 'When the type entered the catalog; GET /event-types lists newest first.';
COMMENT ON COLUMN event_types.updated_at IS 'When the entry last changed.';

-- GET /event-types, newest first, keyset-paginated on (created_at, name).
CREATE INDEX event_types_list ON event_types (created_at DESC, name DESC);

CREATE FUNCTION event_types_announce() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        -- An empty payload: forget the whole catalog.
        PERFORM pg_notify('hookrelay_event_types', '');
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM pg_notify('hookrelay_event_types', OLD.name);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM pg_notify('hookrelay_event_types', NEW.name);
    END IF;
    RETURN NULL;
END $$;
COMMENT ON FUNCTION event_types_announce() IS 'Triggers event_types_announce and event_types_announce_all: tells every listening hookrelay process, at commit, which event type changed (an empty payload: all of them).';

CREATE TRIGGER event_types_announce AFTER INSERT OR UPDATE OR DELETE ON event_types
    FOR EACH ROW EXECUTE FUNCTION event_types_announce();
CREATE TRIGGER event_types_announce_all AFTER TRUNCATE ON event_types
    FOR EACH STATEMENT EXECUTE FUNCTION event_types_announce();
