-- name: WebhookAutoDisableDue
-- The auto-disable check, on its timer (src/workers/auto_disable.rs): enabled
-- webhooks whose attempts have all failed for more than $1 milliseconds, and
-- at least $2 of them. Index webhooks_failing, which holds only enabled
-- webhooks in a run of failures.
SELECT id
FROM webhooks
WHERE enabled AND failing_since < now() - $1::bigint * interval '1 millisecond'
  AND failing_attempts >= $2
ORDER BY failing_since
LIMIT 100;
