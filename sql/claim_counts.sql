-- name: ClaimCounts
-- The producer, second statement of a claim's transaction: what each locked
-- lane ($1) and each locked tenant ($2) has in flight, across every process.
-- Its own statement so that its snapshot is taken after claim_lanes.sql's
-- locks are held: every claim that committed before is counted, and none can
-- add to these lanes until this transaction ends (completions only take away).
-- Index deliveries_leased per lane (at most its max_in_flight rows), and
-- deliveries_leased_by_tenant per tenant.
SELECT
    ARRAY(SELECT (SELECT count(*) FROM deliveries d
                  WHERE d.webhook_id = l.webhook_id AND d.status = 'processing')::int
          FROM unnest($1::uuid[]) WITH ORDINALITY AS l(webhook_id, n)
          ORDER BY l.n) AS lanes,
    ARRAY(SELECT (SELECT count(*) FROM deliveries d
                  WHERE d.tenant = t.tenant AND d.status = 'processing' AND d.tenant <> 'default')::int
          FROM unnest($2::text[]) WITH ORDINALITY AS t(tenant, n)
          ORDER BY t.n) AS tenants;
