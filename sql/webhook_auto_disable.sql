-- name: WebhookAutoDisable
-- The auto-disable check, for one webhook webhook_auto_disable_due.sql found:
-- disables it as PATCH enabled=false does, in a transaction with
-- webhook_hold.sql (its unfinished deliveries held) and its
-- hookrelay.webhook.disabled event. Like webhook_update.sql, it locks the
-- webhook row first (primary key), so it waits for fan-outs under way and a
-- PATCH waits for it. The conditions are checked again under the lock: a 2xx
-- or a client's PATCH that came in between wins, and then this changes nothing.
-- $3 is the window as text, for the reason.
UPDATE webhooks
SET enabled = false,
    updated_at = now(),
    disabled_reason = format('auto-disabled: every attempt failed for %s (at least %s attempts since %s; the first: %s)',
                             $3::text, failing_attempts,
                             to_char(failing_since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                             coalesce(failing_first_error, 'unknown'))
WHERE id = $1 AND enabled AND deleted_at IS NULL
  AND failing_since < now() - $2::bigint * interval '1 millisecond'
  AND failing_attempts >= $4
RETURNING tenant, url, version, disabled_reason, failing_since;
