-- hookrelay schema, version 2: views for the operator in psql.
--
-- Each answers a usual question in one `SELECT * FROM ...`; sql/inspect.sql has
-- the queries around them. They read; nothing in hookrelay depends on them.

-- Serves the metrics' per-status counts without reading finished rows.
CREATE INDEX deliveries_unfinished ON deliveries (status) WHERE status <> 'success';

CREATE VIEW queue_overview AS
SELECT
    count(*) FILTER (WHERE status = 'pending' AND NOT held AND next_retry_at <= now()) AS due_now,
    count(*) FILTER (WHERE status = 'pending' AND NOT held AND next_retry_at > now())  AS scheduled_later,
    count(*) FILTER (WHERE status = 'pending' AND held)                                AS held,
    count(*) FILTER (WHERE status = 'processing')                                      AS processing,
    count(*) FILTER (WHERE status = 'failed')                                          AS failed,
    round(extract(epoch FROM now() - min(next_retry_at)
          FILTER (WHERE status = 'pending' AND NOT held AND next_retry_at <= now()))::numeric, 3)
                                                                                       AS oldest_due_age_seconds
FROM deliveries
WHERE status <> 'success';
COMMENT ON VIEW queue_overview IS 'How deep the queue is right now: one row.';
COMMENT ON COLUMN queue_overview.due_now IS 'Pending deliveries due now, waiting for a worker.';
COMMENT ON COLUMN queue_overview.scheduled_later IS 'Pending deliveries waiting for their next retry.';
COMMENT ON COLUMN queue_overview.held IS 'Pending deliveries of disabled webhooks.';
COMMENT ON COLUMN queue_overview.processing IS 'Deliveries being sent right now (claimed, leased).';
COMMENT ON COLUMN queue_overview.failed IS 'Dead letters: deliveries whose retry budget is spent.';
COMMENT ON COLUMN queue_overview.oldest_due_age_seconds IS 'How long the oldest due delivery has waited; grows when workers cannot keep up.';

CREATE VIEW stuck_deliveries AS
SELECT d.id, d.webhook_id, w.url, d.attempts, d.updated_at AS claimed_at, d.lease_expires_at,
       round(extract(epoch FROM now() - d.lease_expires_at)::numeric, 3) AS overdue_seconds
FROM deliveries d
JOIN webhooks w ON w.id = d.webhook_id
WHERE d.status = 'processing' AND d.lease_expires_at < now()
ORDER BY d.lease_expires_at;
COMMENT ON VIEW stuck_deliveries IS 'Deliveries still processing past their lease: their worker died; the rescuer hands them back within seconds.';
COMMENT ON COLUMN stuck_deliveries.id IS 'The delivery.';
COMMENT ON COLUMN stuck_deliveries.webhook_id IS 'Its webhook.';
COMMENT ON COLUMN stuck_deliveries.url IS 'Where it was being sent.';
COMMENT ON COLUMN stuck_deliveries.attempts IS 'Attempts so far, the lost one included.';
COMMENT ON COLUMN stuck_deliveries.claimed_at IS 'When the lost attempt was claimed.';
COMMENT ON COLUMN stuck_deliveries.lease_expires_at IS 'When its lease ran out.';
COMMENT ON COLUMN stuck_deliveries.overdue_seconds IS 'How long ago the lease ran out.';

CREATE VIEW recent_failures AS
SELECT d.id, d.webhook_id, w.url, e.type AS event_type, d.attempts, d.last_status_code,
       d.last_error, d.completed_at AS failed_at
FROM deliveries d
JOIN webhooks w ON w.id = d.webhook_id
JOIN events e ON e.id = d.event_id
WHERE d.status = 'failed'
ORDER BY d.completed_at DESC;
COMMENT ON VIEW recent_failures IS 'Dead letters, newest first, with where they went and why they failed. POST /deliveries/{id}/retry sends one again.';
COMMENT ON COLUMN recent_failures.id IS 'The delivery.';
COMMENT ON COLUMN recent_failures.webhook_id IS 'Its webhook.';
COMMENT ON COLUMN recent_failures.url IS 'The webhook''s URL now.';
COMMENT ON COLUMN recent_failures.event_type IS 'Type of the event delivered.';
COMMENT ON COLUMN recent_failures.attempts IS 'Attempts made.';
COMMENT ON COLUMN recent_failures.last_status_code IS 'HTTP status of the last attempt, if the receiver answered.';
COMMENT ON COLUMN recent_failures.last_error IS 'Why the last attempt failed.';
COMMENT ON COLUMN recent_failures.failed_at IS 'When the delivery was given up.';

CREATE VIEW webhook_health AS
SELECT w.id AS webhook_id, w.url, w.enabled,
       a.attempts_last_hour,
       round(a.successes_last_hour::numeric / nullif(a.attempts_last_hour, 0), 3) AS success_rate_last_hour,
       a.p50_ms_last_hour, a.p95_ms_last_hour,
       coalesce(f.consecutive_failures, 0) AS consecutive_failures,
       (SELECT count(*) FROM deliveries d WHERE d.webhook_id = w.id AND d.status = 'pending' AND d.held) AS held_deliveries
FROM webhooks w
LEFT JOIN LATERAL (
    SELECT count(*) AS attempts_last_hour,
           count(*) FILTER (WHERE at.status_code BETWEEN 200 AND 299) AS successes_last_hour,
           percentile_disc(0.5) WITHIN GROUP (ORDER BY at.duration_ms) AS p50_ms_last_hour,
           percentile_disc(0.95) WITHIN GROUP (ORDER BY at.duration_ms) AS p95_ms_last_hour
    FROM deliveries d
    JOIN delivery_attempts at ON at.delivery_id = d.id
    WHERE d.webhook_id = w.id AND at.started_at > now() - interval '1 hour'
) a ON true
LEFT JOIN LATERAL (
    SELECT count(*) AS consecutive_failures
    FROM deliveries d
    JOIN delivery_attempts at ON at.delivery_id = d.id
    WHERE d.webhook_id = w.id
      AND at.started_at > coalesce((
          SELECT max(s.started_at)
          FROM deliveries sd JOIN delivery_attempts s ON s.delivery_id = sd.id
          WHERE sd.webhook_id = w.id AND s.status_code BETWEEN 200 AND 299), '-infinity')
) f ON true
ORDER BY w.created_at;
COMMENT ON VIEW webhook_health IS 'How each webhook is doing: the last hour''s attempts, success rate and latency, failures since its last success, held deliveries.';
COMMENT ON COLUMN webhook_health.webhook_id IS 'The webhook.';
COMMENT ON COLUMN webhook_health.url IS 'Its URL.';
COMMENT ON COLUMN webhook_health.enabled IS 'false: its deliveries are held.';
COMMENT ON COLUMN webhook_health.attempts_last_hour IS 'Attempts started in the last hour.';
COMMENT ON COLUMN webhook_health.success_rate_last_hour IS 'Share of those that got a 2xx (null without attempts).';
COMMENT ON COLUMN webhook_health.p50_ms_last_hour IS 'Median attempt duration, last hour.';
COMMENT ON COLUMN webhook_health.p95_ms_last_hour IS '95th percentile attempt duration, last hour.';
COMMENT ON COLUMN webhook_health.consecutive_failures IS 'Attempts since its last 2xx (all of them if it never had one).';
COMMENT ON COLUMN webhook_health.held_deliveries IS 'Pending deliveries held while it is disabled.';
