-- name: DeliveryAttempts
-- GET /deliveries/{id}: the attempt log, oldest first (primary key of delivery_attempts).
SELECT attempt, started_at, duration_ms, status_code, error, response_body, request_headers
FROM delivery_attempts
WHERE delivery_id = $1
ORDER BY attempt;
