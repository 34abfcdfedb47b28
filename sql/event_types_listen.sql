-- name: EventTypesListen
-- The catalog's LISTEN connection (src/catalog.rs), one per process, API side:
-- trigger event_types_announce names every event type that changed, so that
-- what the process cached of it is dropped.
LISTEN hookrelay_event_types;
