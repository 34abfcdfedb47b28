-- hookrelay schema, version 7: custom headers per webhook, and what each attempt sent.
--
-- A webhook may carry up to 20 headers of its own, sent with every attempt
-- (not signed). The API validates names and values (src/domain/headers.rs);
-- the CHECK here keeps the shape a send relies on, for rows written by hand.
-- A send reads them, so a change of headers bumps `version` like a new URL
-- does: the trigger function is redefined with the new column.
--
-- Each attempt records the custom headers it carried, NULL when there were
-- none, so webhooks without headers add nothing to a completion's row.

ALTER TABLE webhooks
    ADD COLUMN headers jsonb NOT NULL DEFAULT '{}'
        CONSTRAINT webhooks_headers_check CHECK (
            jsonb_typeof(headers) = 'object'
            AND jsonb_array_length(jsonb_path_query_array(headers, '$.*')) <= 20
            AND NOT jsonb_path_exists(headers, '$.* ? (@.type() != "string")'));
COMMENT ON COLUMN webhooks.headers IS 'Custom headers sent with every attempt, {"name": "value"}, at most 20; never names hookrelay sets itself or hop-by-hop ones (checked by the API).';
COMMENT ON COLUMN webhooks.version IS 'Bumped (by trigger webhooks_version) whenever url, enabled, a secret, headers or deleted_at changes; announced on channel hookrelay_webhooks so workers re-read the webhook before their next attempt.';

ALTER TABLE delivery_attempts ADD COLUMN request_headers jsonb;
COMMENT ON COLUMN delivery_attempts.request_headers IS 'The webhook''s custom headers this attempt was sent with; null when it had none.';

CREATE OR REPLACE FUNCTION webhooks_bump_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.url, NEW.enabled, NEW.secret, NEW.previous_secret, NEW.previous_secret_expires_at,
        NEW.deleted_at, NEW.headers)
       IS DISTINCT FROM
       (OLD.url, OLD.enabled, OLD.secret, OLD.previous_secret, OLD.previous_secret_expires_at,
        OLD.deleted_at, OLD.headers)
    THEN
        NEW.version := OLD.version + 1;
    END IF;
    RETURN NEW;
END $$;
