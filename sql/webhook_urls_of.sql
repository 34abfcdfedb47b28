-- name: WebhookUrlsOf
-- The console's delivery lists: the URL of each webhook of $1, deleted ones
-- included (their deliveries may still be listed); primary key.
SELECT id, url FROM webhooks WHERE id = ANY ($1::uuid[]);
