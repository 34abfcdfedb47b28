-- name: DeliveryListByType
-- GET /deliveries?event_type= (and the console's deliveries filtered by type):
-- as delivery_list.sql, limited to the deliveries of events of type $10. The
-- type is a plain join condition, never an optional one: `$10 IS NULL OR ...`
-- would keep the planner from making it a join (sublinks are pulled up before
-- constants are folded), and a rare type then walked the whole of
-- deliveries_list, 0.8 s on the big table. As a join, the planner weighs
-- reading the type's events (events_by_type) and their deliveries
-- (deliveries_by_event) for a rare type against walking deliveries_list and
-- checking each event by primary key for a common one.
-- Run as an unnamed statement, like delivery_list.sql.
-- What holds each pending delivery is read for the page alone, outside the
-- query that finds it, so that its plan is the page's as before.
SELECT page.id, page.tenant, page.webhook_id, page.event_id, page.status, page.attempts, page.next_retry_at,
       page.last_status_code, page.last_error, page.created_at, page.updated_at, page.completed_at,
       page.ordering_key,
       waiting.waiting_for, waiting.behind, waiting.paused_until
FROM (
    SELECT d.id, d.tenant, d.webhook_id, d.event_id, d.status, d.attempts, d.next_retry_at,
           d.last_status_code, d.last_error, d.created_at, d.updated_at, d.completed_at,
           d.held, d.behind, d.ordering_key, d.ordering_seq
    FROM deliveries d
    WHERE (d.created_at, d.id) < ($1, $2)
      AND ($4::text IS NULL OR d.status = $4)
      AND ($5::uuid IS NULL OR d.webhook_id = $5)
      AND ($6::uuid IS NULL OR d.event_id = $6)
      AND ($7::timestamptz IS NULL OR d.created_at >= $7)
      AND ($8::timestamptz IS NULL OR d.created_at < $8)
      AND ($9::text IS NULL OR d.tenant = $9)
      AND d.event_id IN (SELECT e.id FROM events e WHERE e.type = $10)
    ORDER BY d.created_at DESC, d.id DESC
    LIMIT $3
) page
CROSS JOIN LATERAL delivery_waiting(page.status, page.held, page.behind, page.next_retry_at,
                                    page.webhook_id, page.tenant, page.ordering_key, page.ordering_seq) waiting
ORDER BY page.created_at DESC, page.id DESC;
