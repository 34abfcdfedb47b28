-- name: DeliveryAttempts
-- GET /deliveries/{id}: the attempt log, oldest first (primary key of
-- delivery_attempts). $2: the caller's tenant (null: any), checked on the
-- delivery by primary key, so no read of another tenant's log returns a row.
SELECT a.attempt, a.started_at, a.duration_ms, a.status_code, a.error, a.response_body, a.request_headers
FROM delivery_attempts a
WHERE a.delivery_id = $1
  AND ($2::text IS NULL OR EXISTS (SELECT 1 FROM deliveries d WHERE d.id = $1 AND d.tenant = $2))
ORDER BY a.attempt;
