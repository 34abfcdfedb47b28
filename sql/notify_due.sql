-- name: NotifyDue
-- After a retry is requested: wake idle workers in every process.
SELECT pg_notify('hookrelay_deliveries', '');
