//! The statements keep their index plans where it matters: on a table with a
//! long history, after the sixth execution (when Postgres may switch a
//! prepared statement to its generic plan), and for every filter of a list.
//! A plan that walks a webhook's whole history, or every row of a list, is
//! as wrong as a wrong answer, only slower to notice.

use serde_json::Value;

use crate::helpers::spawn_app_with;

/// How a statement is run by the service: prepared once and cached (so the
/// generic plan is what runs from the sixth execution on), or unnamed (a
/// custom plan for each execution's own arguments).
#[derive(Clone, Copy)]
pub(crate) enum Run {
    Prepared,
    Unnamed,
}

/// The indexes the plan of `sql` reads, with `args` (SQL literals) bound.
pub(crate) async fn indexes(
    db: &tokio_postgres::Client,
    run: Run,
    sql: &str,
    args: &str,
) -> Vec<String> {
    let mode = match run {
        Run::Prepared => "force_generic_plan",
        Run::Unnamed => "force_custom_plan",
    };
    db.batch_execute(&format!(
        "SET plan_cache_mode = {mode}; DEALLOCATE ALL; PREPARE p AS {sql}"
    ))
    .await
    .unwrap();
    let bound = if args.is_empty() {
        String::new()
    } else {
        format!("({args})")
    };
    let plan: Value = db
        .query_one(&format!("EXPLAIN (FORMAT JSON) EXECUTE p{bound}"), &[])
        .await
        .unwrap()
        .get(0);
    let mut found = Vec::new();
    collect(&plan, &mut found);
    found
}

fn collect(plan: &Value, found: &mut Vec<String>) {
    match plan {
        Value::Object(o) => {
            if let Some(Value::String(name)) = o.get("Index Name") {
                found.push(name.clone());
            }
            o.values().for_each(|v| collect(v, found));
        }
        Value::Array(a) => a.iter().for_each(|v| collect(v, found)),
        _ => {}
    }
}

const WEBHOOK: &str = "'00000000-0000-0000-0000-000000000001'";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_keep_their_index_plans_over_a_long_history() {
    let app = spawn_app_with(|c| c.workers = 0).await;
    // 20 webhooks, 40,000 finished deliveries, a few unfinished ones.
    app.db
        .batch_execute(
            "INSERT INTO webhooks (id, url, event_types, secret)
             SELECT ('00000000-0000-0000-0000-' || lpad(g::text, 12, '0'))::uuid,
                    'http://example.com/', ARRAY['a', 'b' || g], 'whsec_x'
             FROM generate_series(1, 20) g;
             INSERT INTO events (id, type, payload, created_at)
             SELECT gen_random_uuid(), 'b' || (g % 20), '{}', now() - g * interval '10 s'
             FROM generate_series(1, 40000) g;
             INSERT INTO deliveries (id, webhook_id, event_id, status, attempts, completed_at, created_at)
             SELECT uuid_v7(),
                    ('00000000-0000-0000-0000-' || lpad((1 + row_number() OVER () % 20)::text, 12, '0'))::uuid,
                    e.id, CASE WHEN random() < 0.1 THEN 'failed' ELSE 'success' END, 1,
                    e.created_at, e.created_at
             FROM events e;
             UPDATE deliveries SET status = 'pending', completed_at = NULL
             WHERE id IN (SELECT id FROM deliveries WHERE webhook_id = '00000000-0000-0000-0000-000000000001' LIMIT 3);
             INSERT INTO idempotency_keys (key, event_id, created_at)
             SELECT 'k' || e.id, e.id, e.created_at FROM events e;
             -- Other tenants, each with a webhook and a few events of its own.
             INSERT INTO tenants (key) SELECT 't' || g FROM generate_series(1, 200) g;
             INSERT INTO webhooks (id, tenant, url, event_types, secret)
             SELECT gen_random_uuid(), 't' || g, 'http://example.com/', ARRAY['a'], 'whsec_x'
             FROM generate_series(1, 200) g;
             INSERT INTO events (id, tenant, type, payload, created_at)
             SELECT gen_random_uuid(), 't' || (g % 200 + 1), 'a', '{}', now() - g * interval '1 s'
             FROM generate_series(1, 4000) g;
             ANALYZE;",
        )
        .await
        .unwrap();
    let event: String = app
        .db
        .query_one(
            "SELECT quote_literal(event_id::text) FROM deliveries LIMIT 1",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let far = "'9999-12-31', 'ffffffff-ffff-ffff-ffff-ffffffffffff'";
    let cases: Vec<(&str, Run, &str, String, &str)> = vec![
        // Disable, enable and DELETE read what is unfinished, not the history.
        (
            "hold",
            Run::Prepared,
            hookrelay::sql::WEBHOOK_HOLD,
            format!("{WEBHOOK}, true"),
            "deliveries_pending",
        ),
        (
            "hold",
            Run::Prepared,
            hookrelay::sql::WEBHOOK_HOLD,
            format!("{WEBHOOK}, true"),
            "deliveries_leased",
        ),
        (
            "release",
            Run::Prepared,
            hookrelay::sql::WEBHOOK_HOLD,
            format!("{WEBHOOK}, false"),
            "deliveries_pending",
        ),
        (
            "in flight",
            Run::Prepared,
            hookrelay::sql::WEBHOOK_IN_FLIGHT,
            WEBHOOK.to_owned(),
            "deliveries_leased",
        ),
        (
            "reconcile",
            Run::Prepared,
            hookrelay::sql::RECONCILE_HELD,
            String::new(),
            "deliveries_pending",
        ),
        (
            "webhooks",
            Run::Unnamed,
            hookrelay::sql::WEBHOOK_LIST,
            format!("{far}, 51, NULL"),
            "webhooks_list",
        ),
        (
            "webhooks of a tenant",
            Run::Unnamed,
            hookrelay::sql::WEBHOOK_LIST,
            format!("{far}, 51, 't7'"),
            "webhooks_by_tenant",
        ),
        // Every filter of a list is served by its own index.
        (
            "deliveries",
            Run::Unnamed,
            hookrelay::sql::DELIVERY_LIST,
            format!("{far}, 51, NULL, NULL, NULL, NULL, NULL, NULL"),
            "deliveries_list",
        ),
        // A tenant's deliveries: through its webhooks, never the whole list.
        (
            "deliveries of a tenant",
            Run::Unnamed,
            hookrelay::sql::DELIVERY_LIST_BY_TENANT,
            format!("{far}, 51, NULL, NULL, NULL, 't7'"),
            "deliveries_by_webhook",
        ),
        (
            "by webhook",
            Run::Unnamed,
            hookrelay::sql::DELIVERY_LIST,
            format!("{far}, 51, NULL, {WEBHOOK}, NULL, NULL, NULL, NULL"),
            "deliveries_by_webhook",
        ),
        (
            "by event",
            Run::Unnamed,
            hookrelay::sql::DELIVERY_LIST,
            format!("{far}, 51, NULL, NULL, {event}, NULL, NULL, 'default'"),
            "deliveries_by_event",
        ),
        (
            "events",
            Run::Unnamed,
            hookrelay::sql::EVENT_LIST,
            format!("{far}, 51, NULL, NULL"),
            "events_list",
        ),
        (
            "events by type",
            Run::Unnamed,
            hookrelay::sql::EVENT_LIST,
            format!("{far}, 51, 'b7', NULL"),
            "events_by_type",
        ),
        (
            "events of a tenant",
            Run::Unnamed,
            hookrelay::sql::EVENT_LIST,
            format!("{far}, 51, NULL, 't7'"),
            "events_by_tenant",
        ),
        (
            "retry failed",
            Run::Prepared,
            hookrelay::sql::WEBHOOK_RETRY_FAILED,
            format!("{WEBHOOK}, NULL, NULL"),
            "deliveries_failed",
        ),
        // The sweeps read by age, from where the last batch stopped.
        (
            "retention",
            Run::Prepared,
            hookrelay::sql::RETENTION_DELIVERIES,
            "now() - interval '1 day', '1970-01-01', '00000000-0000-0000-0000-000000000000'"
                .to_owned(),
            "deliveries_list",
        ),
        (
            "keys",
            Run::Prepared,
            hookrelay::sql::RETENTION_IDEMPOTENCY_KEYS,
            String::new(),
            "idempotency_keys_created",
        ),
    ];
    for (what, run, sql, args, index) in cases {
        let used = indexes(&app.db, run, sql, &args).await;
        assert!(
            used.iter().any(|u| u == index),
            "{what}: expected index {index}, the plan reads {used:?}"
        );
        if what == "deliveries of a tenant" {
            assert!(
                !used.iter().any(|u| u == "deliveries_list"),
                "{what} walks every tenant's deliveries: {used:?}"
            );
        }
        if what == "hold" || what == "release" || what == "in flight" {
            assert!(
                !used.iter().any(|u| u == "deliveries_by_webhook"),
                "{what} reads the webhook's history: {used:?}"
            );
        }
    }
    // What a cached generic plan would do with the optional filters, had the
    // list not been unnamed: not the webhook's index.
    let generic = indexes(
        &app.db,
        Run::Prepared,
        hookrelay::sql::DELIVERY_LIST,
        &format!("{far}, 51, NULL, {WEBHOOK}, NULL, NULL, NULL, NULL"),
    )
    .await;
    assert!(
        !generic.iter().any(|u| u == "deliveries_by_webhook"),
        "the generic plan would have served the filter; unnamed statements are not needed: {generic:?}"
    );
}

/// A claim's sweep of the lanes, wrapping round from where the last one
/// stopped, over lanes with deep backlogs (ten webhooks with 5,000
/// deliveries each, due a millisecond apart as if emitted one by one, the
/// older half delivered): a descent of the lanes' index per lane. Given the
/// wrap's end in the index condition, the planner read every pending row
/// behind the cursor through `deliveries_pending` (small: its keys repeat,
/// where the lanes' index holds a distinct time per row) and sorted them, at
/// every step, on a table not yet analyzed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claims_sweep_descends_once_per_lane_whatever_the_backlogs() {
    let app = spawn_app_with(|c| c.workers = 0).await;
    app.db
        .batch_execute(
            "INSERT INTO webhooks (id, url, event_types, secret)
             SELECT ('00000000-0000-0000-0000-' || lpad(g::text, 12, '0'))::uuid,
                    'http://example.com/', ARRAY['a'], 'whsec_x'
             FROM generate_series(1, 10) g;
             INSERT INTO events (id, type, payload)
             SELECT gen_random_uuid(), 'a', '{}' FROM generate_series(1, 50000);
             INSERT INTO deliveries (id, webhook_id, event_id, next_retry_at)
             SELECT uuid_v7(),
                    ('00000000-0000-0000-0000-' || lpad((1 + n % 10)::text, 12, '0'))::uuid, e.id,
                    now() - (50000 - n) * interval '1 ms'
             FROM (SELECT id, row_number() OVER () AS n FROM events) e;
             -- The older half delivered, as in a drain: the lanes' index
             -- keeps their entries until vacuum, and its size.
             UPDATE deliveries SET status = 'success', attempts = 1, completed_at = now()
             WHERE id IN (SELECT id FROM deliveries ORDER BY id LIMIT 25000);",
        )
        .await
        .unwrap();
    // Before the first ANALYZE (a new table, as the benchmark's are, where
    // the plan went wrong), then after it.
    for analyzed in [false, true] {
        if analyzed {
            app.db.batch_execute("ANALYZE deliveries").await.unwrap();
        }
        for cursor in [
            "'00000000-0000-0000-0000-000000000000'",
            "'00000000-0000-0000-0000-000000000005'",
            "'00000000-0000-0000-0000-000000000010'",
        ] {
            let used = indexes(
                &app.db,
                Run::Prepared,
                hookrelay::sql::CLAIM_LANES,
                &format!("{cursor}, 64, 16"),
            )
            .await;
            assert!(
                used.iter().any(|u| u == "deliveries_lane_due")
                    && !used.iter().any(|u| u == "deliveries_pending"),
                "from {cursor} (analyzed: {analyzed}), the sweep should descend deliveries_lane_due only: {used:?}"
            );
        }
    }
}
