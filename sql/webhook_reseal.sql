-- name: WebhookReseal
-- The resealer: one webhook's secrets and header values sealed anew ($2-$4),
-- only if they are still what it read ($5-$7); a rotation or a change of
-- headers made meanwhile wins, and the next pass sees it. updated_at stays:
-- no one changed the webhook. Trigger webhooks_version bumps `version`, so
-- workers read the values again (the same values, in clear).
UPDATE webhooks
SET secret = $2::text, previous_secret = $3::text, headers = $4::jsonb
WHERE id = $1::uuid
  AND secret = $5::text
  AND previous_secret IS NOT DISTINCT FROM $6::text
  AND headers = $7::jsonb;
