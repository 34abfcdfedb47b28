-- name: MigrationsLock
-- Runs at start, before migrations: one process migrates, the others wait here.
-- The key is an arbitrary constant that names hookrelay's migrations.
SELECT pg_advisory_lock(720511802026);
