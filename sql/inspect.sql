-- Queries an operator types in psql when something looks wrong. Nothing in
-- hookrelay runs these; each is safe to run on a live database.
--   psql "$DATABASE_URL" -f sql/inspect.sql     (or copy the one you need)

-- How deep is the queue, and is it keeping up? (oldest_due_age_seconds grows when not)
SELECT * FROM queue_overview;

-- Which tenant's queue is deep? (one row per tenant with anything unfinished; /metrics has no tenant label)
SELECT * FROM tenant_queue LIMIT 20;

-- What is stuck: claims whose worker died. The rescuer hands them back within seconds.
SELECT * FROM stuck_deliveries;

-- What failed, and why: the dead letters, newest first (add WHERE tenant = '...' for one customer's).
SELECT tenant, id, url, event_type, attempts, last_status_code, last_error, failed_at
FROM recent_failures
LIMIT 20;

-- How is each webhook doing over the last hour? (webhook_health has each one's tenant)
SELECT * FROM webhook_health;

-- One tenant at a glance (\set tenant 'cus_42' first): its webhooks, events today, and tokens in force.
SELECT (SELECT count(*) FROM webhooks WHERE tenant = :'tenant' AND deleted_at IS NULL) AS webhooks,
       (SELECT count(*) FROM events WHERE tenant = :'tenant' AND created_at > now() - interval '1 day') AS events_last_day,
       (SELECT count(*) FROM tenant_tokens WHERE tenant = :'tenant' AND expires_at > now()) AS live_tokens;

-- The attempt log of one delivery, oldest first (\set delivery_id '<uuid>' first).
SELECT attempt, started_at, duration_ms, status_code, error, left(response_body, 80) AS response
FROM delivery_attempts
WHERE delivery_id = :'delivery_id'
ORDER BY attempt;

-- Failures by reason over the last hour: which receivers are down, and how.
SELECT w.url, coalesce(a.error, 'HTTP ' || a.status_code) AS reason, count(*)
FROM delivery_attempts a
JOIN deliveries d ON d.id = a.delivery_id
JOIN webhooks w ON w.id = d.webhook_id
WHERE a.started_at > now() - interval '1 hour'
  AND (a.status_code IS NULL OR a.status_code NOT BETWEEN 200 AND 299)
GROUP BY 1, 2
ORDER BY 3 DESC;

-- Which lanes have due work, and how much? (one descent of deliveries_lane_due per
-- webhook, as the claim's sweep does: sql/claim_lanes.sql, claim_counts.sql, claim_take.sql)
WITH RECURSIVE lane AS (
    (SELECT webhook_id FROM deliveries
     WHERE status = 'pending' AND NOT held AND NOT behind
     ORDER BY webhook_id, next_retry_at LIMIT 1)
    UNION ALL
    SELECT n.webhook_id FROM lane
    CROSS JOIN LATERAL (
        SELECT webhook_id FROM deliveries
        WHERE status = 'pending' AND NOT held AND NOT behind AND webhook_id > lane.webhook_id
        ORDER BY webhook_id, next_retry_at LIMIT 1) n
)
SELECT lane.webhook_id,
       (SELECT count(*) FROM deliveries d
        WHERE d.webhook_id = lane.webhook_id AND d.status = 'pending' AND NOT d.held
          AND NOT d.behind AND d.next_retry_at <= now()) AS due_now
FROM lane
ORDER BY due_now DESC
LIMIT 20;

-- What holds the pending deliveries, by reason (see view waiting_deliveries for each one).
SELECT waiting_for, count(*) FROM waiting_deliveries GROUP BY 1 ORDER BY 2 DESC;

-- Paused receivers, and rate limits' next slots.
SELECT webhook_id, paused_until, trips, next_slot FROM lanes
WHERE paused_until > now() OR next_slot > now();

-- Table sizes and dead tuples of the hot table (autovacuum is tuned for it).
SELECT relname, n_live_tup, n_dead_tup, last_autovacuum
FROM pg_stat_user_tables
ORDER BY n_live_tup DESC;
