-- hookrelay schema, version 16: credentials may be stored sealed.
--
-- With HOOKRELAY_ENCRYPTION_KEY set, the signing secrets and each custom
-- header value are stored as `hookrelay-sealed:v1:<key id>:<base64>`
-- (AES-256-GCM, src/store/sealing.rs) instead of in clear; values stored
-- before a key, or under a previous key, are re-sealed in the background.
-- The columns keep their types, so nothing here changes but what psql says.

COMMENT ON COLUMN webhooks.secret IS 'Signing secret: whsec_ + base64, or that sealed with HOOKRELAY_ENCRYPTION_KEY (hookrelay-sealed:v1:<key id>:…). Never shown in lists or logs.';
COMMENT ON COLUMN webhooks.previous_secret IS 'The secret before the last rotation, stored as secret is; deliveries are signed with it too until previous_secret_expires_at.';
COMMENT ON COLUMN webhooks.headers IS 'Custom headers sent with every attempt, {"name": "value"}, at most 20, each value stored as secret is (sealed with a key); never names hookrelay sets itself or hop-by-hop ones (checked by the API).';
