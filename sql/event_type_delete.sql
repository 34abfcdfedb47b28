-- name: EventTypeDelete
-- DELETE /event-types/{type}. Primary key. Events and webhooks name types by
-- text, so they keep theirs. Trigger event_types_announce NOTIFYs the change.
DELETE FROM event_types
WHERE name = $1
RETURNING name;
