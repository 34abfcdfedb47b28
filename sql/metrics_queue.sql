-- name: MetricsQueue
-- GET /metrics: deliveries due now and how long the oldest has waited (index deliveries_pending).
SELECT count(*)::float8 AS due_now,
       coalesce(extract(epoch FROM now() - min(next_retry_at)), 0)::float8 AS oldest_due_age_seconds
FROM deliveries
WHERE status = 'pending' AND NOT held AND next_retry_at <= now();
