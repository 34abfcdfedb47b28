-- name: Listen
-- The workers' LISTEN connection: wake-ups for new due work (notify_due.sql),
-- and every webhook's new version (trigger webhooks_announce), so that what the
-- workers cached of a webhook is dropped before their next attempt.
LISTEN hookrelay_deliveries;
LISTEN hookrelay_webhooks;
