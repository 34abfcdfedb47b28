-- hookrelay schema, version 11: sessions of the web console (/console, /portal).
--
-- A session is a random value in a cookie; only its SHA-256 is stored, so
-- whoever reads this table cannot sign in with what they read. Sessions live
-- here, not in a process's memory, so every hookrelay process sharing the
-- database honours a session, its idle timeout and a sign-out alike.

CREATE TABLE console_sessions (
    id_hash      bytea PRIMARY KEY CHECK (length(id_hash) = 32),
    tenant       text REFERENCES tenants (key) ON DELETE CASCADE,
    token_hash   bytea CHECK (length(token_hash) = 32),
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE console_sessions IS 'Signed-in browsers of the web console: a session cookie names its row by the SHA-256 of its value.';
COMMENT ON COLUMN console_sessions.id_hash IS 'SHA-256 of the session cookie''s value; the value itself is never stored.';
COMMENT ON COLUMN console_sessions.tenant IS 'The tenant a portal session sees; null for the operator console.';
COMMENT ON COLUMN console_sessions.token_hash IS 'SHA-256 of the token the session was opened with: an operator session lasts only while that token is in HOOKRELAY_API_TOKENS, a portal session only while that tenant token (tenant_tokens.hash) is unexpired and unrevoked. Null: opened without a token (no tokens configured, loopback only), valid only while none are.';
COMMENT ON COLUMN console_sessions.created_at IS 'When the session was opened.';
COMMENT ON COLUMN console_sessions.last_seen_at IS 'Its last request, kept to the minute; 12 hours idle ends it.';

-- Sign-in sweeps idle and expired sessions by this.
CREATE INDEX console_sessions_idle ON console_sessions (last_seen_at);
