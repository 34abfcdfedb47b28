//! The web console: `/console` for the operator, `/portal` for one tenant.
//!
//! Pages are HTML rendered on the server from maud templates compiled into the
//! binary (`templates/`); a page is a struct whose fields are all the template
//! may show, and maud escapes every value unless told otherwise, so payloads,
//! response bodies and every other stored string reach the browser as text.
//! One stylesheet and one small script are embedded too (`assets.rs`), served
//! under content-hashed names. Everything works without JavaScript: each
//! action is a `<form method=post>` answered by a redirect; the script only
//! hands the portal link's fragment token to the sign-in form.
//!
//! Handlers are as thin as the API's and call the same functions: the store's
//! reads, and for every change `crate::service`'s operations (a retry, a
//! webhook created, changed or deleted, a rotation, a test event, the
//! catalog's writes), so what those mean, and what the workers must be told,
//! lives in one place. Each page takes a `Viewer`
//! (`session.rs`): who is looking, as the API's `Caller` (the operator, or
//! one tenant), found from a session cookie that names a row of
//! `console_sessions`, so every process sharing the database honours it; a
//! tenant's portal is the same pages under `/portal`, every read and write
//! limited to its tenant by the store, as the API's are.
//!
//! Every state-changing request is a `Posted<T>` (`csrf.rs`), which refuses a
//! form without the session's anti-forgery token; `headers.rs` puts a
//! Content-Security-Policy without inline script, and the framing policy, on
//! every answer.

mod area;
mod assets;
mod brand;
mod chart;
mod csrf;
mod error;
mod headers;
mod pages;
mod session;
mod templates;

pub use area::Area;
pub use error::ConsoleError;

use actix_web::web;

/// Registers the console (and its assets) on an actix-web app; before the
/// API's routes, whose catch-all would otherwise answer first.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(assets::service());
    mount(cfg, Area::Console);
    mount(cfg, Area::Portal);
}

/// One area's pages, under its base path, behind its headers.
fn mount(cfg: &mut web::ServiceConfig, area: Area) {
    cfg.service(
        pages::register(web::scope(area.base()), area)
            .default_service(web::to(pages::not_found))
            .wrap(actix_web::middleware::from_fn(headers::secure)),
    );
}
