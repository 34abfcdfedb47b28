-- name: WebhookTargets
-- The worker pool, after a claim, for webhooks it has not cached at the
-- version the claim saw (and, rarely, one at a time when an attempt is about
-- to start and a change was announced meanwhile): what a send needs to know.
-- A webhook that is deleted or disabled comes back with enabled = false; one
-- that no longer exists does not come back. Headers come back null when there
-- are none, so such a webhook's sends build nothing for them. Primary key lookups.
SELECT id, version, url, enabled, secret, nullif(headers, '{}') AS headers,
       CASE WHEN previous_secret_expires_at > now() THEN previous_secret END AS previous_secret,
       CASE WHEN previous_secret_expires_at > now() THEN previous_secret_expires_at END AS previous_secret_expires_at
FROM webhooks
WHERE id = ANY ($1::uuid[]);
