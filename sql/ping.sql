-- name: Ping
-- /readyz and the workers' database check.
SELECT 1;
