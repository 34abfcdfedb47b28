//! `/deliveries`: read them with their attempt log, and send one again; a
//! tenant token, its own tenant's.

use actix_web::web::{Data, Path};
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;

use super::auth::Caller;
use super::pagination::{Paginated, Query};
use super::problem::Problem;
use super::{not_found_id, parse_id, ApiError, AppState};
use crate::domain::EventType;
use crate::service;
use crate::store::deliveries::{self, Attempt, Delivery, Filter};

pub(crate) const STATUSES: [&str; 4] = ["pending", "processing", "success", "failed"];

#[derive(utoipa::ToSchema, Serialize)]
pub struct DeliveryWithAttempts {
    #[serde(flatten)]
    delivery: Delivery,
    attempt_log: Vec<Attempt>,
}

#[utoipa::path(
    get,
    path = "/deliveries",
    operation_id = "list_deliveries",
    tag = "deliveries",
    summary = "List deliveries, newest first",
    params(("limit" = Option<i64>, Query, description = "1 to 500, default 50", minimum = 1, maximum = 500), ("cursor" = Option<String>, Query, description = "next_cursor of the previous page"), ("status" = Option<super::schema::DeliveryStatus>, Query), ("webhook_id" = Option<uuid::Uuid>, Query, description = "Only this webhook's"), ("event_id" = Option<uuid::Uuid>, Query, description = "Only this event's"), ("created_after" = Option<chrono::DateTime<chrono::Utc>>, Query, description = "RFC 3339"), ("created_before" = Option<chrono::DateTime<chrono::Utc>>, Query, description = "RFC 3339"), ("event_type" = Option<String>, Query, description = "The type of the delivery's event"), ("tenant" = Option<String>, Query, description = "Only this tenant's (a tenant token sees only its own)")),
    responses((status = 200, body = super::schema::DeliveryPage), (status = 404, description = "A tenant token named another tenant", body = Problem, content_type = "application/problem+json"), (status = 422, description = "Bad filter, limit or cursor", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"), (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"))
)]
pub async fn list(
    state: Data<AppState>,
    caller: Caller,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let query = Query::parse(req.query_string())?;
    let page = query.page()?;
    let tenant = query.tenant()?;
    let scope = caller.list_scope(tenant.as_ref())?;
    let filter = filter(&query)?;
    let rows = deliveries::list(&state.db().await?, page, scope, &filter).await?;
    Ok(HttpResponse::Ok().json(Paginated::new(rows, page, |d| (d.created_at, d.id))))
}

/// The filters of a list of deliveries, as `GET /deliveries` and the console take them.
pub(crate) fn filter(query: &Query) -> Result<Filter, ApiError> {
    let status = query
        .get("status")
        .map(|s| {
            STATUSES
                .iter()
                .find(|known| **known == s)
                .map(|known| known.to_string())
                .ok_or_else(|| {
                    ApiError::invalid(
                        "status",
                        "must be one of pending, processing, success, failed",
                    )
                })
        })
        .transpose()?;
    Ok(Filter {
        status,
        webhook_id: query.uuid("webhook_id")?,
        event_id: query.uuid("event_id")?,
        created_after: query.time("created_after")?,
        created_before: query.time("created_before")?,
        event_type: query
            .get("event_type")
            .map(|t| EventType::parse(t).map_err(|e| ApiError::invalid("event_type", e)))
            .transpose()?
            .map(|t| t.as_str().to_owned()),
    })
}

#[utoipa::path(
    get,
    path = "/deliveries/{id}",
    operation_id = "get_delivery",
    tag = "deliveries",
    summary = "Read a delivery with its attempt log",
    params(("id" = uuid::Uuid, Path, description = "The delivery's id (a UUID)")),
    responses((status = 200, body = DeliveryWithAttempts), (status = 404, description = "No such delivery, or another tenant's", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"), (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"))
)]
pub async fn get(
    state: Data<AppState>,
    caller: Caller,
    id: Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id("delivery", &id)?;
    let client = state.db().await?;
    let delivery = deliveries::get(&client, id, caller.scope())
        .await?
        .ok_or_else(|| not_found_id("delivery", id))?;
    let attempt_log = deliveries::attempts(&client, id, caller.scope()).await?;
    Ok(HttpResponse::Ok().json(DeliveryWithAttempts {
        delivery,
        attempt_log,
    }))
}

#[utoipa::path(
    post,
    path = "/deliveries/{id}/retry",
    operation_id = "retry_delivery",
    tag = "deliveries",
    summary = "Send a finished delivery again, with a fresh retry budget",
    params(("id" = uuid::Uuid, Path, description = "The delivery's id (a UUID)")),
    responses((status = 202, body = Delivery), (status = 404, description = "No such delivery, or another tenant's", body = Problem, content_type = "application/problem+json"), (status = 409, description = "The delivery is pending or processing, or its webhook was deleted", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"), (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"))
)]
pub async fn retry(
    state: Data<AppState>,
    caller: Caller,
    id: Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id("delivery", &id)?;
    let delivery = service::deliveries::requeue(&state, caller.scope(), id).await?;
    Ok(HttpResponse::Accepted().json(delivery))
}
