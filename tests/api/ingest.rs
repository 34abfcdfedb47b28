//! Group commit of new events (src/store/ingest.rs): events queued while the
//! writer is busy go in together, one the database refuses fails alone, and
//! the writers' statement runs its generic plan.
//!
//! The writer is held on a table lock, so the batch that forms behind it is known
//! exactly rather than left to timing.

use std::time::Duration;

use futures_util::future::join_all;
use hookrelay::store::ingest::Ingest;
use hookrelay::store::{self, Session};
use uuid::Uuid;

use crate::helpers::{eventually, spawn_app};

/// Runs `queued` through one writer while it is blocked on a first event, so they
/// all wait in its queue and are written as one batch when the lock goes.
async fn behind_a_busy_writer(
    app: &crate::helpers::TestApp,
    queued: &[(Uuid, &str, &str)],
) -> Vec<Result<Option<store::ingest::Inserted>, store::StoreError>> {
    let pool = store::pool(&app.database_url, 4, Session::Ingest).unwrap();
    let (ingest, _writers) = Ingest::spawn(pool, 1);
    let (mut locker, connection) =
        tokio_postgres::connect(&app.database_url, tokio_postgres::NoTls)
            .await
            .unwrap();
    tokio::spawn(connection);
    let lock = locker.transaction().await.unwrap();
    lock.batch_execute("LOCK TABLE events IN EXCLUSIVE MODE")
        .await
        .unwrap();

    let first = tokio::spawn({
        let ingest = ingest.clone();
        async move {
            ingest
                .insert(Uuid::now_v7(), "default", "a", "{}", None, None)
                .await
        }
    });
    let blocked = eventually(Duration::from_secs(10), || async {
        app.db
            .query_one(
                "SELECT count(*) FROM pg_locks WHERE relation = 'events'::regclass AND NOT granted",
                &[],
            )
            .await
            .unwrap()
            .get::<_, i64>(0)
            == 1
    })
    .await;
    assert!(blocked, "the writer never reached the lock");

    // Polled once each, every insert is queued before the lock goes.
    let all = join_all(
        queued
            .iter()
            .map(|(id, tenant, payload)| ingest.insert(*id, tenant, "a", payload, None, None)),
    );
    let release = async {
        tokio::task::yield_now().await;
        lock.rollback().await.unwrap();
    };
    let (results, ()) = tokio::join!(all, release);
    first.await.unwrap().unwrap();
    results
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_queued_behind_a_busy_writer_are_committed_together() {
    let app = spawn_app().await;
    app.create_webhook("http://127.0.0.1:9/hook", &["a"]).await;
    let queued: Vec<(Uuid, &str, &str)> = (0..50)
        .map(|_| (Uuid::now_v7(), "default", r#"{"n": 1}"#))
        .collect();

    let results = behind_a_busy_writer(&app, &queued).await;

    let inserted: Vec<_> = results
        .into_iter()
        .map(|r| r.unwrap().expect("inserted"))
        .collect();
    assert!(
        inserted.iter().all(|i| i.deliveries == 1),
        "each fanned out to the webhook"
    );
    let created: std::collections::HashSet<_> = inserted.iter().map(|i| i.created_at).collect();
    assert_eq!(
        created.len(),
        1,
        "one transaction, so one created_at for all 50"
    );
    assert_eq!(app.count("events").await, 51);
    assert_eq!(app.count("deliveries").await, 51);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_the_database_refuses_fails_alone_in_its_batch() {
    let app = spawn_app().await;
    app.create_webhook("http://127.0.0.1:9/hook", &["a"]).await;
    let bad = Uuid::now_v7();
    let mut queued: Vec<(Uuid, &str, &str)> = (0..20)
        .map(|_| (Uuid::now_v7(), "default", r#"{"n": 1}"#))
        .collect();
    // Text that is not JSON: the store's callers never send it (the API
    // parsed it first), but the database's own check must fail it alone.
    queued.insert(10, (bad, "default", r#"{"n": nope}"#));

    let results = behind_a_busy_writer(&app, &queued).await;

    for ((id, _, _), result) in queued.iter().zip(&results) {
        if *id == bad {
            let e = result.as_ref().expect_err("the refused payload fails");
            assert!(e.code().is_some_and(|c| c.starts_with("22")), "{e}");
        } else {
            assert_eq!(result.as_ref().unwrap().unwrap().deliveries, 1);
        }
    }
    assert_eq!(
        app.count("events").await,
        21,
        "the first and the 20 good ones"
    );
    assert_eq!(app.count("deliveries").await, 21);
    let stored: i64 = app
        .db
        .query_one("SELECT count(*) FROM events WHERE id = $1", &[&bad])
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, 0, "nothing of the refused event is stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_for_a_missing_tenant_is_left_out_of_its_batch_alone() {
    let app = spawn_app().await;
    app.create_webhook("http://127.0.0.1:9/hook", &["a"]).await;
    let orphan = Uuid::now_v7();
    let mut queued: Vec<(Uuid, &str, &str)> = (0..20)
        .map(|_| (Uuid::now_v7(), "default", r#"{"n": 1}"#))
        .collect();
    queued.insert(7, (orphan, "nobody", r#"{"n": 2}"#));

    let results = behind_a_busy_writer(&app, &queued).await;

    for ((id, _, _), result) in queued.iter().zip(&results) {
        let inserted = result.as_ref().expect("no error: the batch is not refused");
        if *id == orphan {
            assert!(
                inserted.is_none(),
                "the event of a missing tenant is not stored"
            );
        } else {
            assert_eq!(inserted.expect("stored").deliveries, 1);
        }
    }
    assert_eq!(
        app.count("events").await,
        21,
        "the first and the 20 of default"
    );
    assert_eq!(app.count("deliveries").await, 21);
}

/// The writers' connections run their statement's generic plan from the first
/// batch on. Left to choose, Postgres plans a connection's first five
/// executions for their own arguments; when those were small batches among many
/// tenants, it judges that cheaper than the generic plan and goes on planning
/// every batch anew.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_writers_run_the_generic_plan_however_small_their_first_batches() {
    let app = spawn_app().await;
    app.db
        .batch_execute(
            "INSERT INTO tenants (key) SELECT 't' || g FROM generate_series(1, 10000) g;
             INSERT INTO webhooks (id, tenant, url, event_types, secret)
             SELECT uuid_v7(), 't' || g, 'http://127.0.0.1:9/hook', ARRAY['a'], 'whsec_x'
             FROM generate_series(1, 10000) g;
             ANALYZE tenants, webhooks;",
        )
        .await
        .unwrap();
    let pool = store::pool(&app.database_url, 1, Session::Ingest).unwrap();
    let client = pool.get().await.unwrap();
    for n in 1..=8 {
        let tenant = format!("t{n}");
        let inserted = store::ingest::insert_events(
            &client,
            &[Uuid::now_v7()],
            &["a"],
            &["{}"],
            &[&tenant],
            &[None],
            &store::ingest::Traces::default(),
        )
        .await
        .unwrap();
        assert_eq!(inserted.len(), 1);
    }
    let plans = client
        .query_one(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements \
             WHERE statement LIKE '-- name: EventInsert%'",
            &[],
        )
        .await
        .unwrap();
    let (generic, custom): (i64, i64) = (plans.get(0), plans.get(1));
    assert_eq!(
        (generic, custom),
        (8, 0),
        "every batch ran the generic plan"
    );
}
