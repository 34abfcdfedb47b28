//! Types that exist only to name shapes in the OpenAPI document, so that code
//! generators (`openapi-python-client`, `openapi-typescript`, …) turn them into
//! classes with natural names instead of `PaginatedDeliveryDataItem` or
//! `CreateWebhookHeadersType0`.
//!
//! Why a separate set of types: the answers themselves are built from the
//! store's rows (`Paginated<T>`, `Delivery` with `status: String`, headers as
//! JSON values), which the console reads too. Here each closed set of strings
//! becomes an enum, each free-form object a named schema, and each list one
//! page schema whose items are a `$ref` to the row's schema; the rows' fields
//! point here with `#[schema(value_type = …)]`. The unit tests below hold the
//! enums to the values the code and the SQL actually produce, and
//! `tests/api/openapi.rs` holds the document to what is served.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::store::deliveries::Delivery;
use crate::store::event_types::EventTypeEntry;
use crate::store::events::Event;
use crate::store::tenants::Tenant;
use crate::store::webhooks::Webhook;

/// Where a delivery is: `pending → processing → success`, or back to
/// `pending` after a failed attempt, or `failed` (the dead letter) once the
/// retry budget is spent.
#[derive(utoipa::ToSchema, Serialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // The answers carry the store's strings; the tests name each variant.
pub enum DeliveryStatus {
    Pending,
    Processing,
    Success,
    Failed,
}

/// What holds a pending delivery (null when it is due, or being sent):
/// `retry` until `next_retry_at`; `ordering` behind an earlier delivery with
/// the same ordering key (`behind`); `rate_limit`; `concurrency`
/// (`max_in_flight`, or the tenant's cap); `paused` by the receiver's breaker
/// until `paused_until`; `held` while the webhook is disabled.
#[derive(utoipa::ToSchema, Serialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // As DeliveryStatus.
pub enum WaitingFor {
    Retry,
    Ordering,
    RateLimit,
    Concurrency,
    Paused,
    Held,
}

/// Custom headers, name to value. Every read masks the values (`"••••"`),
/// except `GET /webhooks/{id}/headers`; in a PATCH, a value given as `"••••"`
/// keeps the stored one.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct Headers(BTreeMap<String, String>);

/// The operator's own JSON object about a tenant, at most 4 KiB.
#[derive(utoipa::ToSchema)]
#[schema(value_type = Object)]
#[allow(dead_code)]
pub struct Metadata(serde_json::Map<String, serde_json::Value>);

/// `GET /healthz`'s answer.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct Health {
    status: HealthStatus,
}

#[derive(utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum HealthStatus {
    Ok,
}

/// `GET /readyz`'s answer when the database answers and its schema is current.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct Readiness {
    status: ReadinessStatus,
}

#[derive(utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum ReadinessStatus {
    Ready,
}

/// An OpenAPI 3.1 document: `GET /openapi.json`'s answer.
#[derive(utoipa::ToSchema)]
#[schema(value_type = Object)]
#[allow(dead_code)]
pub struct OpenApiDocument(serde_json::Map<String, serde_json::Value>);

/// One page schema per list, as `pagination::Paginated` serializes it: the
/// items by `$ref`, and `next_cursor` always present (null on the last page).
macro_rules! page {
    ($($page:ident of $item:ty: $what:literal;)*) => {$(
        #[doc = concat!("A page of ", $what, ", newest first: pass `next_cursor` as `?cursor=` for the next; null on the last page.")]
        #[derive(utoipa::ToSchema)]
        #[allow(dead_code)]
        pub struct $page {
            data: Vec<$item>,
            #[schema(required = true)]
            next_cursor: Option<String>,
        }
    )*};
}

page! {
    WebhookPage of Webhook: "webhooks";
    EventPage of Event: "events";
    DeliveryPage of Delivery: "deliveries";
    TenantPage of Tenant: "tenants";
    EventTypePage of EventTypeEntry: "catalog entries";
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names<T: Serialize>(all: &[T]) -> Vec<String> {
        all.iter()
            .map(|v| match serde_json::to_value(v) {
                Ok(serde_json::Value::String(s)) => s,
                other => panic!("not a string: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn delivery_status_is_the_set_the_api_filters_by() {
        use DeliveryStatus::*;
        assert_eq!(
            names(&[Pending, Processing, Success, Failed]),
            super::super::deliveries::STATUSES
        );
    }

    /// `waiting_for` is computed in SQL (`delivery_waiting`, migration 0013):
    /// every reason it can answer is a variant, and no variant is unused.
    #[test]
    fn waiting_for_is_the_set_delivery_waiting_answers() {
        use WaitingFor::*;
        let sql = include_str!("../../migrations/0013_lanes.sql");
        let function = sql
            .split("CREATE FUNCTION delivery_waiting(")
            .nth(1)
            .and_then(|rest| rest.split("$$;").next())
            .expect("delivery_waiting in migration 0013");
        let mut answered: Vec<String> = function
            .split("THEN '")
            .skip(1)
            .filter_map(|rest| rest.split('\'').next())
            .map(str::to_owned)
            .collect();
        answered.sort();
        answered.dedup();
        let mut ours = names(&[Retry, Ordering, RateLimit, Concurrency, Paused, Held]);
        ours.sort();
        assert_eq!(answered, ours);
    }
}
