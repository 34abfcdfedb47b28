-- name: WebhookFailing
-- The completer, after a batch that changes a webhook's run of failed attempts
-- (src/queue/failing.rs; rare: the run starts, counts up to $8, sees its first
-- pause, or ends), in a transaction of its own with the recovered event this
-- may call for. One webhook per statement, by primary key: a transaction that
-- locked several webhook rows could deadlock with a fan-out, which
-- share-locks webhooks in no particular order.
--
-- $1 the webhook. $2: the batch had a 2xx for it, which ends the run; $3: the
-- breaker paused it before that 2xx. $4..$7: the failures after the batch's
-- last 2xx (all of them when it had none): when the first began, what it was,
-- how many, whether one paused the webhook. The run is read under the row lock
-- (`old`), so a concurrent completer's change is built on, not overwritten.
-- Returns whether the run ended after a pause (hookrelay.webhook.recovered).
-- Trigger webhooks_version ignores these columns: workers' caches stay valid.
WITH old AS MATERIALIZED (
    SELECT id, tenant, url, failing_since, failing_attempts, failing_paused
    FROM webhooks
    WHERE id = $1 AND deleted_at IS NULL
    FOR NO KEY UPDATE
)
UPDATE webhooks w
SET failing_since       = CASE WHEN $2 OR o.failing_since IS NULL THEN $4 ELSE o.failing_since END,
    failing_first_error = CASE WHEN $2 OR o.failing_since IS NULL THEN $5 ELSE w.failing_first_error END,
    failing_attempts    = least(CASE WHEN $2 THEN 0 ELSE o.failing_attempts END + $6, $8),
    failing_paused      = (o.failing_paused AND NOT $2) OR $7
FROM old o
WHERE w.id = o.id
RETURNING o.tenant, o.url, o.failing_since, $2 AND (o.failing_paused OR $3) AS recovered;
