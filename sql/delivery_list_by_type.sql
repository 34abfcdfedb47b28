-- name: DeliveryListByType
-- GET /deliveries?event_type= (and the console's deliveries filtered by type):
-- as delivery_list.sql, limited to the deliveries of events of type $10.
-- Run as an unnamed statement, like delivery_list.sql.
--
-- Two ways to the page, and the statement, not the planner's estimate,
-- picks one: `kind` counts the type's events up to 1,000 (index
-- events_by_type). A rare type (fewer) reads each of its events'
-- deliveries (deliveries_by_event; OFFSET 0 keeps the planner from turning
-- that back into a walk of the list) and sorts them; a common one walks
-- deliveries_list, newest first, checking each event by primary key, and
-- soon fills the page. Each branch is gated by a one-time filter, so only
-- one runs. Left to the planner, the choice followed the sampled frequency
-- of the type and the average deliveries per event: with 20 events of a
-- type among 100,000, one ANALYZE's sample put it at 1,377 deliveries and
-- the walk was chosen, which then read all 5.1 million rows of the
-- benchmark's big table (1.2 s a page) to find the 20; the sample before
-- had led it to the events (2.5 ms). (Written as `$10 IS NULL OR ...`, the
-- type kept the planner from making it a join at all: 0.8 s.)
-- What holds each pending delivery is read for the page alone, outside the
-- query that finds it, so that its plan is the page's as before.
WITH kind AS MATERIALIZED (
    SELECT count(*) < 1000 AS rare
    FROM (SELECT 1 FROM events e WHERE e.type = $10 LIMIT 1000) few
), page AS (
    (SELECT d.id, d.tenant, d.webhook_id, d.event_id, d.status, d.attempts, d.next_retry_at,
            d.last_status_code, d.last_error, d.created_at, d.updated_at, d.completed_at,
            d.held, d.behind, d.ordering_key, d.ordering_seq
     FROM events e
     CROSS JOIN LATERAL (
         SELECT d.*
         FROM deliveries d
         WHERE d.event_id = e.id
           AND (d.created_at, d.id) < ($1, $2)
           AND ($4::text IS NULL OR d.status = $4)
           AND ($5::uuid IS NULL OR d.webhook_id = $5)
           AND ($6::uuid IS NULL OR d.event_id = $6)
           AND ($7::timestamptz IS NULL OR d.created_at >= $7)
           AND ($8::timestamptz IS NULL OR d.created_at < $8)
           AND ($9::text IS NULL OR d.tenant = $9)
         OFFSET 0
     ) d
     WHERE e.type = $10 AND (SELECT rare FROM kind)
     ORDER BY d.created_at DESC, d.id DESC
     LIMIT $3)
    UNION ALL
    (SELECT d.id, d.tenant, d.webhook_id, d.event_id, d.status, d.attempts, d.next_retry_at,
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
       AND NOT (SELECT rare FROM kind)
     ORDER BY d.created_at DESC, d.id DESC
     LIMIT $3)
)
SELECT page.id, page.tenant, page.webhook_id, page.event_id, page.status, page.attempts, page.next_retry_at,
       page.last_status_code, page.last_error, page.created_at, page.updated_at, page.completed_at,
       page.ordering_key,
       waiting.waiting_for, waiting.behind, waiting.paused_until
FROM page
CROSS JOIN LATERAL delivery_waiting(page.status, page.held, page.behind, page.next_retry_at,
                                    page.webhook_id, page.tenant, page.ordering_key, page.ordering_seq) waiting
ORDER BY page.created_at DESC, page.id DESC;
