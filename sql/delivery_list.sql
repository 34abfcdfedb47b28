-- name: DeliveryList
-- GET /deliveries and GET /events/{id}/deliveries, newest first, with optional
-- filters status ($4), webhook_id ($5), event_id ($6), a creation time range
-- ($7 <= created_at < $8): dead letters by webhook and time, and tenant ($9:
-- the ?tenant= filter, or the caller's own tenant). A tenant's list without a
-- webhook or event filter runs delivery_list_by_tenant.sql instead, which does
-- not walk every other tenant's rows.
-- Run as an unnamed statement (src/store/deliveries.rs), so every execution is
-- planned for the filters it has: a cached generic plan, made for "any filter
-- or none", walks deliveries_list past every other webhook's rows where a
-- custom plan reads deliveries_by_webhook. $1, $2: the cursor (past every row
-- on the first page); $3: page size + 1.
-- What holds each pending delivery is read for the page alone, outside the
-- query that finds it, so that its plan is the page's as before.
SELECT page.id, page.tenant, page.webhook_id, page.event_id, page.status, page.attempts, page.next_retry_at,
       page.last_status_code, page.last_error, page.created_at, page.updated_at, page.completed_at,
       page.ordering_key,
       waiting.waiting_for, waiting.behind, waiting.paused_until
FROM (
    SELECT id, tenant, webhook_id, event_id, status, attempts, next_retry_at, last_status_code,
           last_error, created_at, updated_at, completed_at,
           held, behind, ordering_key, ordering_seq
    FROM deliveries
    WHERE (created_at, id) < ($1, $2)
      AND ($4::text IS NULL OR status = $4)
      AND ($5::uuid IS NULL OR webhook_id = $5)
      AND ($6::uuid IS NULL OR event_id = $6)
      AND ($7::timestamptz IS NULL OR created_at >= $7)
      AND ($8::timestamptz IS NULL OR created_at < $8)
      AND ($9::text IS NULL OR tenant = $9)
    ORDER BY created_at DESC, id DESC
    LIMIT $3
) page
CROSS JOIN LATERAL delivery_waiting(page.status, page.held, page.behind, page.next_retry_at,
                                    page.webhook_id, page.tenant, page.ordering_key, page.ordering_seq) waiting
ORDER BY page.created_at DESC, page.id DESC;
