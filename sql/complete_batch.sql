-- name: CompleteBatch
-- The completer, every few milliseconds: record a batch of finished attempts.
-- Each element names the delivery and the attempt it claimed; the update is
-- guarded by both, so an outcome whose lease was lost (rescued, re-claimed,
-- deleted) changes nothing. Attempts are logged only for rows really updated.
-- One row comes back per webhook: the ids of its outcomes that were accepted,
-- and its run of failures as it stood (migrations/0008_auto_disable.sql), from
-- which the caller sees whether this batch changes it; almost always it does
-- not, and nothing more is written. One primary-key look-up per webhook.
-- $10 holds the custom headers each attempt carried (JSON text), null for most
-- webhooks; $11 whether each receiver looked healthy (anything but no answer,
-- a 5xx or a 429).
--
-- The circuit breaker lives here too, in `lanes`, so every process sees it:
-- a healthy answer closes it; $12 (TRIP_AFTER) unhealthy ones in a row, or one
-- while probing after a pause, pause the webhook for 5 s, doubling with each
-- trip up to a minute. Lanes are written only when that changes something
-- (almost never for a healthy webhook), locked in id order.
WITH outcome AS (
    SELECT *
    FROM unnest($1::uuid[], $2::int[], $3::text[], $4::bigint[], $5::int[], $6::text[],
                $7::timestamptz[], $8::int[], $9::text[], $10::text[], $11::bool[])
         AS o(id, attempt, status, retry_in_ms, status_code, error, started_at, duration_ms, response_body,
              request_headers, healthy)
), updated AS (
    UPDATE deliveries d
    SET status = o.status,
        next_retry_at = CASE WHEN o.status = 'pending'
                             THEN now() + o.retry_in_ms * interval '1 millisecond'
                             ELSE d.next_retry_at END,
        lease_expires_at = NULL,
        last_status_code = o.status_code,
        last_error = o.error,
        updated_at = now(),
        completed_at = CASE WHEN o.status IN ('success', 'failed') THEN now() END
    FROM outcome o
    -- "Still processing" is asked as lease_expires_at IS NOT NULL (the same, by
    -- the table's CHECK): asked as status = 'processing', it let the planner,
    -- misled by stale statistics, read every entry of deliveries_leased, dead
    -- ones included, instead of looking each row up by primary key.
    WHERE d.id = o.id AND d.attempts = o.attempt AND d.lease_expires_at IS NOT NULL
    RETURNING d.id, d.webhook_id
), logged AS (
    INSERT INTO delivery_attempts (delivery_id, attempt, started_at, duration_ms, status_code, error, response_body,
                                   request_headers)
    SELECT o.id, o.attempt, o.started_at, o.duration_ms, o.status_code, o.error, o.response_body,
           o.request_headers::jsonb
    FROM outcome o
    JOIN updated u ON u.id = o.id
), by_webhook AS (
    SELECT u.webhook_id, array_agg(u.id) AS accepted,
           bool_or(o.healthy) AS healthy, count(*) FILTER (WHERE NOT o.healthy) AS unhealthy
    FROM updated u
    JOIN outcome o ON o.id = u.id
    GROUP BY u.webhook_id
), lane AS MATERIALIZED (
    SELECT l.webhook_id,
           NOT b.healthy
             AND (l.paused_until IS NULL OR l.paused_until <= now())
             AND (l.failures + b.unhealthy >= $12::integer OR l.trips > 0) AS trips_now
    FROM lanes l
    JOIN by_webhook b USING (webhook_id)
    WHERE b.unhealthy > 0 OR (b.healthy AND (l.failures > 0 OR l.trips > 0))
    ORDER BY l.webhook_id
    FOR NO KEY UPDATE OF l
), breaker AS (
    UPDATE lanes l
    SET failures = CASE WHEN b.healthy OR lane.trips_now THEN 0 ELSE l.failures + b.unhealthy END,
        trips = CASE WHEN b.healthy THEN 0 WHEN lane.trips_now THEN l.trips + 1 ELSE l.trips END,
        paused_until = CASE WHEN lane.trips_now
                            THEN now() + least(5000 * 2 ^ least(l.trips, 4), 60000) * interval '1 millisecond'
                            ELSE l.paused_until END
    FROM lane
    JOIN by_webhook b USING (webhook_id)
    WHERE l.webhook_id = lane.webhook_id
    RETURNING l.webhook_id, lane.trips_now AS tripped
)
SELECT b.webhook_id, b.accepted, coalesce(breaker.tripped, false) AS tripped,
       w.failing_since IS NOT NULL AS failing, w.failing_attempts, w.failing_paused
FROM by_webhook b
JOIN webhooks w ON w.id = b.webhook_id
LEFT JOIN breaker USING (webhook_id);
