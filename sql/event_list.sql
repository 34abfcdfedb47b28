-- name: EventList
-- GET /events, newest first, optional type filter ($4); indexes events_list and events_by_type.
-- Run as an unnamed statement, planned for the filter it has (see delivery_list.sql).
-- $1, $2: the cursor (past every row on the first page); $3: page size + 1.
SELECT e.id, e.type, e.payload::text AS payload, e.created_at,
       (SELECT count(*) FROM deliveries d WHERE d.event_id = e.id) AS deliveries
FROM events e
WHERE (e.created_at, e.id) < ($1, $2)
  AND ($4::text IS NULL OR e.type = $4)
ORDER BY e.created_at DESC, e.id DESC
LIMIT $3;
