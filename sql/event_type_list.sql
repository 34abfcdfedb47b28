-- name: EventTypeList
-- GET /event-types, newest first, keyset-paginated on (created_at, name); index event_types_list.
-- $1, $2: the cursor (past every row on the first page); $3: page size + 1.
SELECT name, description, schema, archived, created_at, updated_at
FROM event_types
WHERE (created_at, name) < ($1, $2)
ORDER BY created_at DESC, name DESC
LIMIT $3;
