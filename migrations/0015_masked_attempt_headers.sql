-- hookrelay schema, version 15: attempt logs keep custom headers' names, not
-- their values.
--
-- A webhook's custom header values are credentials more often than not, and
-- write-only since this version (only GET /webhooks/{id}/headers answers
-- them). Every attempt used to copy them into its row, for the whole
-- retention period; the copies made before are masked here as new attempts
-- record them: '••••' in place of each value.

UPDATE delivery_attempts
SET request_headers = (
    SELECT jsonb_object_agg(h.name, '••••'::text)
    FROM jsonb_each(request_headers) AS h (name, value))
WHERE jsonb_typeof(request_headers) = 'object' AND request_headers <> '{}';

COMMENT ON COLUMN delivery_attempts.request_headers IS 'The names of the webhook''s custom headers this attempt was sent with, each value masked (''••••''); null when it had none.';
COMMENT ON COLUMN webhooks.headers IS 'Custom headers sent with every attempt: {"name": "value"}. The values are write-only: only GET /webhooks/{id}/headers answers them.';
