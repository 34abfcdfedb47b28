-- name: ConsoleSessionClose
-- Console sign-out: the session named by $1 (the SHA-256 of its cookie) ends
-- for every process at once; primary key.
DELETE FROM console_sessions WHERE id_hash = $1;
