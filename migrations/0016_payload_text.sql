-- hookrelay schema, version 16: an event's payload is kept as the client's
-- own JSON text.
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
