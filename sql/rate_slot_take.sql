-- name: RateSlotTake
-- A worker, before an attempt to a webhook with a rate limit ($2 microseconds
-- between attempts): takes the next free slot and answers how long until it
-- starts (0 if the webhook has been quiet). The row lock makes concurrent
-- takers, in every process, queue up one slot apart: the limit is global.
-- Primary key lookup.
INSERT INTO webhook_rate_slots AS s (webhook_id, next_slot)
VALUES ($1, now() + $2::bigint * interval '1 microsecond')
ON CONFLICT (webhook_id) DO UPDATE
SET next_slot = greatest(s.next_slot, now()) + $2::bigint * interval '1 microsecond'
RETURNING greatest(extract(epoch FROM (s.next_slot - now())) * 1000000 - $2::bigint, 0)::bigint AS wait_us;
