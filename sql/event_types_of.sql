-- name: EventTypesOf
-- The console's delivery lists: the type of each event of $1; primary key.
-- Only the tenant $2's (null: any), as every statement a tenant can reach.
SELECT id, type FROM events WHERE id = ANY ($1::uuid[]) AND ($2::text IS NULL OR tenant = $2);
