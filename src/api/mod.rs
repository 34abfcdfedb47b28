//! The HTTP API: one file per resource, thin handlers over `crate::store`.
//!
//! Handlers parse input into domain types, call one store function, and shape
//! the answer; every failure is an `ApiError`, turned into problem+json in
//! `problem.rs`. Bearer tokens are checked by `auth.rs` before any handler runs.

mod auth;
mod body;
mod deliveries;
mod events;
mod health;
mod metrics;
mod pagination;
mod problem;
mod webhooks;

use actix_web::web;
use uuid::Uuid;

use crate::config::Config;
use crate::store::{Client, Pool};
pub use problem::ApiError;

/// What every handler can reach.
pub struct AppState {
    pub pool: Pool,
    pub config: Config,
    /// Told whenever a request creates work that is due now.
    pub wakeup: crate::wakeup::Wakeup,
    pub metrics: std::sync::Arc<crate::metrics::Metrics>,
}

impl AppState {
    async fn db(&self) -> Result<Client, ApiError> {
        Ok(self
            .pool
            .get()
            .await
            .map_err(crate::store::StoreError::from)?)
    }
}

/// Registers every route on an actix-web app.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .service(
            web::scope("")
                .wrap(actix_web::middleware::from_fn(auth::require_token))
                .route("/webhooks", web::post().to(webhooks::create))
                .route("/webhooks", web::get().to(webhooks::list))
                .route("/webhooks/{id}", web::get().to(webhooks::get))
                .route("/webhooks/{id}", web::patch().to(webhooks::update))
                .route("/webhooks/{id}", web::delete().to(webhooks::delete))
                .route("/webhooks/{id}/secret", web::get().to(webhooks::secret))
                .route(
                    "/webhooks/{id}/rotate-secret",
                    web::post().to(webhooks::rotate_secret),
                )
                .route(
                    "/webhooks/{id}/retry-failed",
                    web::post().to(webhooks::retry_failed),
                )
                .route("/events", web::post().to(events::create))
                .route("/events", web::get().to(events::list))
                .route("/events/{id}", web::get().to(events::get))
                .route("/events/{id}/deliveries", web::get().to(events::deliveries))
                .route("/deliveries", web::get().to(deliveries::list))
                .route("/deliveries/{id}", web::get().to(deliveries::get))
                .route("/deliveries/{id}/retry", web::post().to(deliveries::retry))
                .route("/metrics", web::get().to(metrics::metrics))
                .default_service(web::to(not_found)),
        );
}

async fn not_found(req: actix_web::HttpRequest) -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::NotFound(format!(
        "no route for {} {}",
        req.method(),
        req.path()
    )))
}

/// Parses an id from the path; anything that is not a UUID names nothing (404).
fn parse_id(what: &str, raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| not_found_id(what, raw))
}

fn not_found_id(what: &str, raw: impl std::fmt::Display) -> ApiError {
    let shown: String = raw.to_string().chars().take(64).collect();
    ApiError::NotFound(format!("no {what} with id {shown:?}"))
}
