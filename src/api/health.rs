//! `/healthz` (the process is up) and `/readyz` (the database answers, schema current).
//!
//! Both answer without a token, so orchestrators and load balancers can call them.

use actix_web::web::Data;
use actix_web::HttpResponse;

use super::problem::Problem;
use super::AppState;

#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "get_health",
    tag = "operations",
    summary = "Liveness: the process is up",
    security(()),
    responses((status = 200, description = "Up", body = super::schema::Health, example = json!({"status": "ok"})))
)]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "get_readiness",
    tag = "operations",
    summary = "Readiness: the database answers and its schema is current",
    security(()),
    responses((status = 200, description = "Ready", body = super::schema::Readiness, example = json!({"status": "ready"})), (status = 503, description = "The database does not answer or its schema is not current", body = Problem, content_type = "application/problem+json"))
)]
pub async fn readyz(state: Data<AppState>) -> HttpResponse {
    if crate::store::ready(&state.pool).await {
        HttpResponse::Ok().json(serde_json::json!({"status": "ready"}))
    } else {
        HttpResponse::ServiceUnavailable()
            .content_type("application/problem+json")
            .json(serde_json::json!({
                "type": "https://hookrelay.dev/problems/unavailable",
                "title": "Not ready",
                "status": 503,
                "detail": "the database does not answer or its schema is not current",
            }))
    }
}
