//! `GET /metrics`: the Prometheus text exposition (see `crate::metrics`).

use actix_web::web::Data;
use actix_web::HttpResponse;

use super::{ApiError, AppState};

pub async fn metrics(state: Data<AppState>) -> Result<HttpResponse, ApiError> {
    let client = state.db().await?;
    let text = state.metrics.render(&client, &state.pool).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text))
}
