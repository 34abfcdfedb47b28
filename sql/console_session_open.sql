-- name: ConsoleSessionOpen
-- Console sign-in (src/console/session.rs): a new session, $1 the SHA-256 of
-- its cookie, $2 its tenant (null: the operator), $3 the SHA-256 of the token
-- it was opened with (null: none needed). Every session idle for longer than
-- $4 ms goes at the same time (index console_sessions_idle), so the table
-- holds only sessions in use.
WITH swept AS (
    DELETE FROM console_sessions
    WHERE last_seen_at < now() - $4::bigint * interval '1 millisecond'
)
INSERT INTO console_sessions (id_hash, tenant, token_hash)
VALUES ($1, $2, $3);
