-- name: DeliveryListByTenant
-- GET /deliveries for one tenant ($7: ?tenant=, or the caller's own tenant),
-- without a webhook or event filter: status ($4) and creation time range
-- ($5 <= created_at < $6) as in delivery_list.sql.
-- deliveries has no index by tenant (one more index would cost every claim
-- and completion a write), so the page is merged from the newest rows of each
-- of the tenant's webhooks (index webhooks_by_tenant, then deliveries_by_webhook,
-- at most a page from each): the cost follows the tenant's webhooks, not the
-- table. Deleted webhooks not yet purged are included, as in the plain list.
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
    FROM webhooks w
    CROSS JOIN LATERAL (
        SELECT *
        FROM deliveries d
        WHERE d.webhook_id = w.id
          AND (d.created_at, d.id) < ($1, $2)
          AND ($4::text IS NULL OR d.status = $4)
          AND ($5::timestamptz IS NULL OR d.created_at >= $5)
          AND ($6::timestamptz IS NULL OR d.created_at < $6)
        ORDER BY d.created_at DESC, d.id DESC
        LIMIT $3
    ) d
    WHERE w.tenant = $7
    ORDER BY d.created_at DESC, d.id DESC
    LIMIT $3
) page
CROSS JOIN LATERAL delivery_waiting(page.status, page.held, page.behind, page.next_retry_at,
                                    page.webhook_id, page.tenant, page.ordering_key, page.ordering_seq) waiting
ORDER BY page.created_at DESC, page.id DESC;
