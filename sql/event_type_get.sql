-- name: EventTypeGet
-- GET /event-types/{type}, and the catalog cache (src/catalog.rs) when it does
-- not know a type yet: once per type and process while the cache listens, on
-- every event while it does not. Primary key.
SELECT name, description, schema, archived, created_at, updated_at
FROM event_types
WHERE name = $1;
