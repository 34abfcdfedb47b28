-- name: MigrationsRecord
-- Runs in the transaction that applied migration $1.
INSERT INTO schema_migrations (version, name) VALUES ($1, $2);
