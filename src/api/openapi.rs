//! `GET /openapi.json`: an OpenAPI 3.1 document generated from the handlers'
//! own annotations and types (utoipa), so it describes what is served. A test
//! holds it against `api::ROUTES`, the list the routes are registered from
//! (plus the two open health routes), and runs `openapi-spec-validator` on it.
//!
//! It is written for client generators as much as for readers: every object
//! has a named schema (`schema.rs` names what the rows cannot), a field an
//! answer always carries, null or not, is `required` (a generated model says
//! `str | None`, not "maybe absent"), operation ids are snake_case method
//! names (`list_deliveries`), and `servers` names this hookrelay as its users
//! reach it (HOOKRELAY_PUBLIC_URL), so a client made from the served document
//! points at the server that served it.
//! `.ci/clients-test` generates a Python and a TypeScript client from it and
//! runs the Python one against a live server.

use actix_web::web::Data;
use actix_web::HttpResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::server::ServerBuilder;
use utoipa::{Modify, OpenApi};

use super::{deliveries, event_types, events, health, metrics, tenants, webhooks, AppState};

#[derive(OpenApi)]
#[openapi(
    info(title = "hookrelay", description = "Webhook delivery with Postgres as the only store and queue. Errors are application/problem+json (RFC 9457)."),
    paths(
        webhooks::create, webhooks::list, webhooks::get, webhooks::update, webhooks::delete,
        webhooks::secret, webhooks::headers, webhooks::rotate_secret, webhooks::retry_failed, webhooks::send_test,
        events::create, events::list, events::get, events::deliveries,
        event_types::put, event_types::list, event_types::get, event_types::delete,
        deliveries::list, deliveries::get, deliveries::retry,
        tenants::put, tenants::list, tenants::get, tenants::delete,
        tenants::create_token, tenants::revoke_tokens, tenants::portal_link,
        metrics::metrics, document, health::healthz, health::readyz,
    ),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "get_openapi_document",
    tag = "operations",
    summary = "This document",
    responses((status = 200, description = "OpenAPI 3.1", content_type = "application/json", body = super::schema::OpenApiDocument))
)]
pub async fn document(state: Data<AppState>) -> HttpResponse {
    let mut doc = ApiDoc::openapi();
    doc.servers = Some(vec![ServerBuilder::new()
        .url(state.public_url.clone())
        .description(Some("This hookrelay, as HOOKRELAY_PUBLIC_URL names it"))
        .build()]);
    HttpResponse::Ok().json(doc)
}
