-- name: NotifyDue
-- The wake-up task (src/wakeup.rs), at most once per few milliseconds after new
-- work: wakes idle workers in other processes. Never sent inside an ingest
-- transaction, where it would serialize commits on the notify lock.
SELECT pg_notify('hookrelay_deliveries', '');
