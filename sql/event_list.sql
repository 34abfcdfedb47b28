-- name: EventList
-- GET /events, newest first, optional type filter ($4); indexes events_list and events_by_type.
SELECT e.id, e.type, e.payload::text AS payload, e.created_at,
       (SELECT count(*) FROM deliveries d WHERE d.event_id = e.id) AS deliveries
FROM events e
WHERE ($1::timestamptz IS NULL OR (e.created_at, e.id) < ($1, $2::uuid))
  AND ($4::text IS NULL OR e.type = $4)
ORDER BY e.created_at DESC, e.id DESC
LIMIT $3;
