-- name: ConsoleSessionFind
-- Every console and portal page: the session named by $1 (the SHA-256 of its
-- cookie), unless idle for longer than $2 ms; a tenant's only while the token
-- it was opened with is unexpired and unrevoked and its tenant not deleted,
-- as src/api/auth.rs takes the token itself. Primary keys throughout.
-- last_seen_at moves on at most once a minute, so reading pages does not
-- write a row on every request.
WITH found AS MATERIALIZED (
    SELECT s.id_hash, s.tenant, s.token_hash
    FROM console_sessions s
    WHERE s.id_hash = $1
      AND s.last_seen_at > now() - $2::bigint * interval '1 millisecond'
      AND (s.tenant IS NULL OR EXISTS (
          SELECT 1
          FROM tenant_tokens tt
          JOIN tenants t ON t.key = tt.tenant AND t.deleted_at IS NULL
          WHERE tt.hash = s.token_hash AND tt.tenant = s.tenant AND tt.expires_at > now()))
), touched AS (
    UPDATE console_sessions s
    SET last_seen_at = now()
    FROM found
    WHERE s.id_hash = found.id_hash AND s.last_seen_at < now() - interval '1 minute'
)
SELECT tenant, token_hash FROM found;
