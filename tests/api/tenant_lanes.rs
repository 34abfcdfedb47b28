//! One tenant's endpoints cannot take every worker: a tenant has a lane over
//! all its webhooks (`HOOKRELAY_MAX_IN_FLIGHT_PER_TENANT`), so another
//! tenant's deliveries go out while the first one's receivers hang.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{spawn_app_with, Receiver, Reply};

#[tokio::test]
async fn a_tenant_whose_endpoints_hang_leaves_workers_to_the_others() {
    let app = spawn_app_with(|c| {
        c.workers = 8;
        c.max_in_flight_per_webhook = 4;
        c.max_in_flight_per_tenant = 4;
        // Long enough that the hanging sends stay under way for the whole test.
        c.delivery_timeout = Duration::from_secs(30);
        c.lease = Duration::from_secs(40);
        c.shutdown_grace = Duration::from_millis(100);
    })
    .await;
    let hanging = Receiver::start(|_| Reply::status(200).after(Duration::from_secs(60))).await;
    let calm = Receiver::ok().await;
    for key in ["busy", "calm"] {
        assert_eq!(
            app.put(&format!("/tenants/{key}"), &json!({}))
                .await
                .status(),
            201
        );
    }
    // Three webhooks of four sends each could hold twelve workers: more than the eight there are.
    for _ in 0..3 {
        let webhook =
            json!({"url": hanging.url, "event_types": ["order.created"], "tenant": "busy"});
        assert_eq!(app.post("/webhooks", &webhook).await.status(), 201);
    }
    let webhook = json!({"url": calm.url, "event_types": ["order.created"], "tenant": "calm"});
    assert_eq!(app.post("/webhooks", &webhook).await.status(), 201);
    for n in 0..6 {
        let event = json!({"type": "order.created", "tenant": "busy", "payload": {"n": n}});
        assert_eq!(app.post("/events", &event).await.status(), 201);
    }
    hanging.wait_for(4, Duration::from_secs(10)).await;

    let event = json!({"type": "order.created", "tenant": "calm", "payload": {"n": "calm"}});
    assert_eq!(app.post("/events", &event).await.status(), 201);
    let got = calm.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got[0].json()["n"], "calm");
    assert_eq!(
        hanging.count(),
        4,
        "the busy tenant sends four at once, across its three webhooks"
    );
    app.shutdown().await;
}
