-- name: WebhookRotateSecret
-- POST /webhooks/{id}/rotate-secret: the current secret becomes the previous one,
-- still signed with for 24 hours, so receivers can switch over without a gap.
UPDATE webhooks
SET previous_secret = secret,
    previous_secret_expires_at = now() + interval '24 hours',
    secret = $2,
    updated_at = now()
WHERE id = $1 AND deleted_at IS NULL
RETURNING secret, version;
