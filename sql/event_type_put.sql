-- name: EventTypePut
-- PUT /event-types/{type}: creates the entry, or changes the fields the request
-- names (a field left out keeps its value; $2 and $4 say whether description and
-- schema were given, so that null clears them). One statement on the primary
-- key: two concurrent PUTs of a new type cannot both insert. `created` tells the
-- two answers apart (201, 200): xmax is 0 on a row this statement inserted, and
-- the id of the updating transaction on a row it updated.
-- Trigger event_types_announce NOTIFYs the change at commit.
INSERT INTO event_types AS t (name, description, schema, archived)
VALUES ($1, $3, $5::jsonb, coalesce($6, false))
ON CONFLICT (name) DO UPDATE
SET description = CASE WHEN $2 THEN $3 ELSE t.description END,
    schema      = CASE WHEN $4 THEN $5::jsonb ELSE t.schema END,
    archived    = coalesce($6, t.archived),
    updated_at  = now()
RETURNING name, description, schema, archived, created_at, updated_at, (xmax = 0) AS created;
