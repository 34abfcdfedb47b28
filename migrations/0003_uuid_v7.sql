-- hookrelay schema, version 3: time-ordered delivery ids.
--
-- Delivery ids were random (v4), so each new delivery's primary-key entry, and
-- each update of it, landed on a random leaf of an index as large as the whole
-- history; once that outgrew memory, every write paid for a page read. UUIDv7
-- ids begin with the time, so new deliveries share the index's right edge.
-- PostgreSQL 18 has uuidv7(); this works on the older servers we support.

CREATE FUNCTION uuid_v7() RETURNS uuid
LANGUAGE sql VOLATILE PARALLEL SAFE
AS $$
    -- A random (v4) UUID, its first 48 bits replaced by Unix milliseconds and its
    -- version nibble turned from 4 (0100) into 7 (0111).
    SELECT encode(
        set_bit(set_bit(
            overlay(uuid_send(gen_random_uuid())
                    PLACING substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
                    FROM 1 FOR 6),
            52, 1), 53, 1),
        'hex')::uuid
$$;
COMMENT ON FUNCTION uuid_v7() IS 'A time-ordered UUID (version 7), for ids of rows inserted in bulk by SQL.';
