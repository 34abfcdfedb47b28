-- name: WebhookDelete
-- DELETE /webhooks/{id}: the webhook becomes a tombstone, disabled, so the
-- fan-out skips it and (with webhook_hold.sql, in the same transaction) its
-- unfinished deliveries are held. Its rows are removed in the background
-- (webhook_purge_deliveries.sql, webhook_purge.sql), so the request costs time
-- in proportion to what is unfinished, not to the webhook's history.
-- $2: the caller's tenant (null: the operator, any tenant).
UPDATE webhooks
SET enabled = false, deleted_at = now(), updated_at = now()
WHERE id = $1 AND deleted_at IS NULL AND ($2::text IS NULL OR tenant = $2)
RETURNING version;
