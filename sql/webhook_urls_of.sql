-- name: WebhookUrlsOf
-- The console's delivery lists: the URL of each webhook of $1, deleted ones
-- included (their deliveries may still be listed); primary key. Only the
-- tenant $2's (null: any), as every statement a tenant can reach.
SELECT id, url FROM webhooks WHERE id = ANY ($1::uuid[]) AND ($2::text IS NULL OR tenant = $2);
