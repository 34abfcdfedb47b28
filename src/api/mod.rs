//! The HTTP API: one file per resource, thin handlers over `crate::store`.
//!
//! Handlers parse input into domain types, call one store function, and shape
//! the answer; every failure is an `ApiError`, turned into problem+json in
//! `problem.rs`. Who is calling (the operator, or one tenant) is decided by
//! `auth.rs` before any handler runs; a handler says which callers it serves
//! by taking `auth::Operator` or `auth::Caller`, and passes the caller's
//! scope to the store.

pub mod auth;
mod body;
pub(crate) mod deliveries;
mod event_types;
mod events;
mod health;
mod metrics;
pub mod openapi;
pub(crate) mod pagination;
mod problem;
mod request_log;
pub(crate) mod schema;
pub(crate) mod tenants;
pub mod throttle;
pub mod token_cache;
pub(crate) mod webhooks;

use actix_web::web;
use uuid::Uuid;

use crate::config::Config;
use crate::store::{Client, Pool};
pub use problem::ApiError;

/// What every handler can reach.
pub struct AppState {
    pub pool: Pool,
    /// Where new events go (group commit).
    pub ingest: crate::store::ingest::Ingest,
    pub config: Config,
    /// Where users reach hookrelay (HOOKRELAY_PUBLIC_URL, or http:// on the
    /// address bound), without a trailing slash: portal links start with it.
    pub public_url: String,
    /// Told whenever a request creates work that is due now.
    pub wakeup: crate::wakeup::Wakeup,
    pub metrics: std::sync::Arc<crate::metrics::Metrics>,
    /// Told of every change to a webhook before the request that made it returns.
    pub targets: std::sync::Arc<crate::delivery::Targets>,
    /// The event-type catalog as ingest consults it; told of every change the
    /// API makes before the request returns.
    pub catalog: std::sync::Arc<crate::catalog::Catalog>,
    /// Failed authentications per client address (bearer tokens and console sign-ins).
    pub auth_failures: throttle::Throttle,
    /// Tenant-token look-ups of the last few seconds.
    pub tenant_tokens: token_cache::TokenCache,
}

impl AppState {
    pub(crate) async fn db(&self) -> Result<Client, crate::store::StoreError> {
        Ok(self.pool.get().await?)
    }
}

/// Declares the routes behind the token check once: registered from this list,
/// and listed in `ROUTES`, which the OpenAPI test holds the document against.
macro_rules! guarded_routes {
    ($($method:ident $path:literal => $handler:path;)*) => {
        /// Every route behind the token check, as served: (method, path).
        pub const ROUTES: &[(&str, &str)] = &[$((stringify!($method), $path)),*];

        fn register(scope: actix_web::Scope) -> actix_web::Scope {
            scope$(.route($path, web::$method().to($handler)))*
        }
    };
}

guarded_routes! {
    post "/webhooks" => webhooks::create;
    get "/webhooks" => webhooks::list;
    get "/webhooks/{id}" => webhooks::get;
    patch "/webhooks/{id}" => webhooks::update;
    delete "/webhooks/{id}" => webhooks::delete;
    get "/webhooks/{id}/secret" => webhooks::secret;
    get "/webhooks/{id}/headers" => webhooks::headers;
    post "/webhooks/{id}/rotate-secret" => webhooks::rotate_secret;
    post "/webhooks/{id}/retry-failed" => webhooks::retry_failed;
    post "/webhooks/{id}/test" => webhooks::send_test;
    post "/events" => events::create;
    get "/events" => events::list;
    get "/events/{id}" => events::get;
    get "/events/{id}/deliveries" => events::deliveries;
    put "/event-types/{type}" => event_types::put;
    get "/event-types" => event_types::list;
    get "/event-types/{type}" => event_types::get;
    delete "/event-types/{type}" => event_types::delete;
    put "/tenants/{key}" => tenants::put;
    get "/tenants" => tenants::list;
    get "/tenants/{key}" => tenants::get;
    delete "/tenants/{key}" => tenants::delete;
    post "/tenants/{key}/tokens" => tenants::create_token;
    delete "/tenants/{key}/tokens" => tenants::revoke_tokens;
    post "/tenants/{key}/portal" => tenants::portal_link;
    get "/deliveries" => deliveries::list;
    get "/deliveries/{id}" => deliveries::get;
    post "/deliveries/{id}/retry" => deliveries::retry;
    get "/metrics" => metrics::metrics;
    get "/openapi.json" => openapi::document;
}

pub use request_log::log_request;

/// Registers every route on an actix-web app.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .service(
            register(web::scope(""))
                .default_service(web::to(not_found))
                .wrap(actix_web::middleware::from_fn(auth::identify)),
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
pub(crate) fn parse_id(what: &str, raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| not_found_id(what, raw))
}

pub(crate) fn not_found_id(what: &str, raw: impl std::fmt::Display) -> ApiError {
    let shown: String = raw.to_string().chars().take(64).collect();
    ApiError::NotFound(format!("no {what} with id {shown:?}"))
}
