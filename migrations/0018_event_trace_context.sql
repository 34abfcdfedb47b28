-- hookrelay schema, version 18: an event keeps the W3C trace context it was
-- emitted with, and each attempt sends a child of it to the receiver.
--
-- Two nullable columns without a default: adding them rewrites nothing, and
-- an event without a context (most, with tracing off) stores no bytes for them.

ALTER TABLE events
    ADD COLUMN trace_parent text,
    ADD COLUMN trace_state text;

COMMENT ON COLUMN events.trace_parent IS 'W3C traceparent (version 00 form) the event was emitted with, or, with OpenTelemetry export on, that of hookrelay''s ingest span; attempts send a child of it. NULL: none (a malformed header is ignored).';
COMMENT ON COLUMN events.trace_state IS 'W3C tracestate the event was emitted with, sent as given beside the traceparent; NULL when absent or unusable.';
