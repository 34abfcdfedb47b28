-- name: EventList
-- GET /events, newest first, optional filters type ($4) and tenant ($5: the
-- ?tenant= filter, or the caller's own tenant); indexes events_list,
-- events_by_type and events_by_tenant.
-- Run as an unnamed statement, planned for the filters it has (see delivery_list.sql).
-- $1, $2: the cursor (past every row on the first page); $3: page size + 1.
SELECT e.id, e.tenant, e.type, e.payload::text AS payload, e.ordering_key, e.created_at,
       (SELECT count(*) FROM deliveries d WHERE d.event_id = e.id) AS deliveries
FROM events e
WHERE (e.created_at, e.id) < ($1, $2)
  AND ($4::text IS NULL OR e.type = $4)
  AND ($5::text IS NULL OR e.tenant = $5)
ORDER BY e.created_at DESC, e.id DESC
LIMIT $3;
