-- name: MigrationsApplied
-- Runs at start and from /readyz: the newest schema version present.
SELECT coalesce(max(version), 0) AS version FROM schema_migrations;
