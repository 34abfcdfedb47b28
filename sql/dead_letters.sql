-- name: DeadLetters
-- The completer and the rescuer, in the transaction that moved deliveries $1
-- to failed: what each one's hookrelay.delivery.dead_lettered event says.
-- Primary-key look-ups. Deliveries of hookrelay's own events are left out: an
-- operator's webhook that is down would otherwise dead-letter the notices of
-- its own dead letters, and announce those, forever.
SELECT d.id AS delivery_id, d.event_id, e.type AS event_type, d.webhook_id, w.url, w.tenant,
       d.attempts, d.last_status_code, d.last_error
FROM deliveries d
JOIN events e ON e.id = d.event_id
JOIN webhooks w ON w.id = d.webhook_id
WHERE d.id = ANY ($1::uuid[]) AND d.status = 'failed' AND e.type NOT LIKE 'hookrelay.%'
ORDER BY d.id;
