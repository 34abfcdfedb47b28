-- name: IdempotencyClaim
-- POST /events with Idempotency-Key, first statement of its transaction.
-- Keys are per tenant ($1): the same key in two tenants names two events.
-- Returns a row when this request owns the key (new, or last used over 24 hours ago);
-- no row means the key is live and its event is the answer. A concurrent request with
-- the same key waits on the primary key until this transaction ends, so exactly one wins.
INSERT INTO idempotency_keys (tenant, key, event_id)
VALUES ($1, $2, $3)
ON CONFLICT (tenant, key) DO UPDATE
    SET event_id = excluded.event_id, created_at = now()
    WHERE idempotency_keys.created_at < now() - interval '24 hours'
RETURNING event_id;
