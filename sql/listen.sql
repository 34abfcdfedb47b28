-- name: Listen
-- The worker pool's wake-up connection: new deliveries and retry requests NOTIFY here.
LISTEN hookrelay_deliveries;
