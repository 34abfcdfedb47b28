//! `GET /metrics`: the Prometheus text exposition (see `crate::metrics`); the
//! operator's (it counts every tenant's deliveries, with no tenant label).

use actix_web::web::Data;
use actix_web::HttpResponse;

use super::auth::Operator;
use super::problem::Problem;
use super::{ApiError, AppState};

#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "get_metrics",
    tag = "operations",
    summary = "Prometheus metrics",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String), (status = 403, description = "A tenant token: metrics are the operator's", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"), (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"))
)]
pub async fn metrics(state: Data<AppState>, _: Operator) -> Result<HttpResponse, ApiError> {
    let client = state.db().await?;
    let text = state.metrics.render(&client, &state.pool).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text))
}
