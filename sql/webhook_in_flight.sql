-- name: WebhookInFlight
-- DELETE /webhooks/{id}: how many of its deliveries a worker is sending right
-- now (index deliveries_leased, which leads with webhook_id). The delete waits
-- for zero, so nothing is sent to the webhook after it returns.
SELECT count(*) AS in_flight
FROM deliveries
WHERE webhook_id = $1 AND status = 'processing';
