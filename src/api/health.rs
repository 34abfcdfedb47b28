//! `/healthz` (the process is up) and `/readyz` (the database answers, schema current).

use actix_web::web::Data;
use actix_web::HttpResponse;

use super::AppState;

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

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
