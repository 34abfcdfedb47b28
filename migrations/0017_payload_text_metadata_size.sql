-- hookrelay schema, version 17: an event's payload is kept as the client's
-- own JSON text, and tenant metadata has one size rule, the API's.
--
-- Payloads.
--
-- events.payload was jsonb, which keeps a parsed value, not the text: keys
-- come back reordered (shorter keys first), duplicate keys and whitespace are
-- dropped, and numbers are rewritten (1.0e3 reads back as 1000). The receiver
-- then got other bytes than the client sent, so a signature the client
-- computed over its own payload did not match. The json type checks that the
-- text is JSON and stores the text itself: the body of every delivery, and
-- every read, is the client's payload byte for byte.
--
-- What it costs: the column's type changes, so events is rewritten once (and
-- its indexes rebuilt) while writes to it wait. Retention bounds the table,
-- but on a large install this holds POST /events for that long: run
-- `hookrelay migrate` in a quiet hour. Payloads stored before keep the text
-- jsonb made of them. An older binary still running during a rolling upgrade
-- writes `payload::jsonb` into the column, which PostgreSQL casts on
-- assignment; it reads `payload::text`, which works on either type.

ALTER TABLE events ALTER COLUMN payload TYPE json USING payload::json;

COMMENT ON COLUMN events.payload IS 'The client''s JSON text as it was given, byte for byte: the body of every delivery of this event, and what every read answers. json, not jsonb, so that key order, spacing and number text are kept.';

-- Tenant metadata. PUT /tenants/{key} takes an object of at most 4096 bytes
-- written as compact JSON (no spaces), and says so, naming `metadata`, before
-- the database sees it. The CHECK measured metadata::text instead, jsonb's
-- rendering, with a space after every colon and comma and numbers written out
-- in full (1e-300 is 302 characters): an object the API had accepted near the
-- limit came back as a 422 in the database's words. The size rule is the
-- API's alone now; the CHECK keeps a bound only against a runaway value
-- written by hand, on what jsonb stores (pg_column_size), and looser than the
-- API's rule whatever the object: jsonb stores at most about six bytes for a
-- byte of compact JSON (an array of one-digit numbers, the densest case), so
-- 32 KiB holds anything within 4096.
ALTER TABLE tenants DROP CONSTRAINT tenants_metadata_check;
ALTER TABLE tenants ADD CONSTRAINT tenants_metadata_check
    CHECK (jsonb_typeof(metadata) = 'object' AND pg_column_size(metadata) <= 32768);

COMMENT ON COLUMN tenants.metadata IS 'The operator''s own JSON object about the tenant: at most 4096 bytes as compact JSON, which the API checks (the CHECK only bounds what jsonb stores, at 32 KiB).';
