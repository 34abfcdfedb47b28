-- name: EventTypesOf
-- The console's delivery lists: the type of each event of $1; primary key.
SELECT id, type FROM events WHERE id = ANY ($1::uuid[]);
