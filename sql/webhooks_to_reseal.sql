-- name: WebhooksToReseal
-- The resealer (src/store/sealing.rs), after a new encryption key: webhooks,
-- deleted ones too, holding a value not sealed with it ($1: the prefix every
-- value sealed with the current key starts with), in id order after $2, $3 at
-- a time. A previous secret that is null needs nothing.
SELECT id, secret, previous_secret, headers
FROM webhooks
WHERE id > $2::uuid
  AND (NOT starts_with(secret, $1::text)
       OR NOT starts_with(previous_secret, $1::text)
       OR EXISTS (SELECT 1 FROM jsonb_each_text(headers) AS h (name, value)
                  WHERE NOT starts_with(h.value, $1::text)))
ORDER BY id
LIMIT $3::bigint;
