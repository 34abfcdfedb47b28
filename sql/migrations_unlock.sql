-- name: MigrationsUnlock
-- Runs after migrations, releasing MigrationsLock.
SELECT pg_advisory_unlock(720511802026);
