-- name: Listen
-- The process's one LISTEN connection (src/store/listen.rs): wake-ups for new
-- due work (notify_due.sql); every webhook's new version (trigger
-- webhooks_announce), so that what the workers cached of a webhook is dropped
-- before their next attempt; and every changed event type (trigger
-- event_types_announce), so that the catalog POST /events consults drops it.
LISTEN hookrelay_deliveries;
LISTEN hookrelay_webhooks;
LISTEN hookrelay_event_types;
