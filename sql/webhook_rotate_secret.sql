-- name: WebhookRotateSecret
-- POST /webhooks/{id}/rotate-secret: the current secret becomes the previous one,
-- still signed with for 24 hours, so receivers can switch over without a gap.
-- $3: the caller's tenant (null: any).
UPDATE webhooks
SET previous_secret = secret,
    previous_secret_expires_at = now() + interval '24 hours',
    secret = $2,
    updated_at = now()
WHERE id = $1 AND deleted_at IS NULL AND ($3::text IS NULL OR tenant = $3)
RETURNING secret, version;
