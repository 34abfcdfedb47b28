-- hookrelay schema, version 8: auto-disable, and what it needs to know.
--
-- A webhook whose attempts have all failed for HOOKRELAY_AUTO_DISABLE_AFTER
-- (and at least ten of them) is disabled, like PATCH enabled=false, with
-- disabled_reason saying why. Deciding that must not read a webhook's history
-- (an outage of days is thousands of attempts) nor cost the completer a write
-- per batch, so the webhook row carries its current run of failures, written
-- only when the run changes: it starts (the first failed attempt after a 2xx,
-- or ever), it counts up to ten failed attempts and then stops counting, the
-- circuit breaker pauses the receiver, or it ends (a 2xx). A steadily healthy
-- or steadily failing webhook costs no write at all.

ALTER TABLE webhooks
    ADD COLUMN disabled_reason text,
    ADD COLUMN failing_since timestamptz,
    ADD COLUMN failing_first_error text,
    ADD COLUMN failing_attempts integer NOT NULL DEFAULT 0 CHECK (failing_attempts >= 0),
    ADD COLUMN failing_paused boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN webhooks.disabled_reason IS 'Why hookrelay disabled this webhook by itself (auto-disable); null when it is enabled or a client disabled it. A PATCH of enabled clears it.';
COMMENT ON COLUMN webhooks.failing_since IS 'When its current run of failed attempts began (the first non-2xx attempt since its last 2xx); null while its latest attempt succeeded. Set and cleared by the completer; cleared when a client enables the webhook again.';
COMMENT ON COLUMN webhooks.failing_first_error IS 'The first failed attempt of the current run: "HTTP <status>" or why no answer came.';
COMMENT ON COLUMN webhooks.failing_attempts IS 'Failed attempts in the current run, counted up to 10 (what auto-disable needs) and no further, so a long outage does not write here on every attempt.';
COMMENT ON COLUMN webhooks.failing_paused IS 'The circuit breaker paused this receiver during the current run: its first 2xx emits hookrelay.webhook.recovered.';

-- The auto-disable check reads only webhooks in a run of failures, oldest run first.
CREATE INDEX webhooks_failing ON webhooks (failing_since) WHERE enabled AND failing_since IS NOT NULL;
