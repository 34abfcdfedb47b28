-- name: ConsoleSessionFind
-- Every console and portal page: the session named by $1 (the SHA-256 of its
-- cookie), unless idle for longer than $2 ms or past its token's expiry;
-- primary key. last_seen_at moves on at most once a minute, so reading pages
-- does not write a row on every request.
WITH found AS MATERIALIZED (
    SELECT id_hash, tenant, token_hash
    FROM console_sessions
    WHERE id_hash = $1
      AND last_seen_at > now() - $2::bigint * interval '1 millisecond'
      AND (expires_at IS NULL OR expires_at > now())
), touched AS (
    UPDATE console_sessions s
    SET last_seen_at = now()
    FROM found
    WHERE s.id_hash = found.id_hash AND s.last_seen_at < now() - interval '1 minute'
)
SELECT tenant, token_hash FROM found;
