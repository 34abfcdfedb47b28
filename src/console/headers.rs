//! The headers every console and portal answer carries, error pages and
//! redirects included (and error pages get their HTML here, where the area is
//! known): a Content-Security-Policy that allows no inline script
//! (nor any script but our own file), the framing policy of the area, and no
//! caching of pages that show customers' data.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web::Data;
use actix_web::{HttpMessage, HttpResponse};

use super::area::Area;
use super::brand::Brand;
use super::error::ConsoleError;
use super::session::PendingCookie;
use crate::api::AppState;

/// The policy of every page; `frame-ancestors` is added per area.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                      form-action 'self'; base-uri 'none'";

pub async fn secure(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let area = Area::of(req.path());
    let state = req.app_data::<Data<AppState>>();
    let ancestors = match (area, state) {
        (Area::Portal, Some(state)) => state.config.portal_frame_ancestors.clone(),
        _ => "'none'".to_owned(),
    };
    let brand = state
        .map(|s| Brand::of(&s.config, area))
        .unwrap_or_default();
    let mut res = next.call(req).await?.map_into_boxed_body();
    let page = res
        .response()
        .error()
        .and_then(|e| e.as_error::<ConsoleError>())
        .and_then(|e| e.page(area, &brand));
    if let Some(page) = page {
        let status = res.status();
        res = res.into_response(
            HttpResponse::build(status)
                .content_type("text/html; charset=utf-8")
                .body(page),
        );
    }
    let pending = res.request().extensions().get::<PendingCookie>().cloned();
    if let Some(PendingCookie(cookie)) = pending {
        res.response_mut().add_cookie(&cookie)?;
    }
    let headers = res.headers_mut();
    // Checked at start-up (config::parse_frame_ancestors): never a bad header value.
    if let Ok(csp) = HeaderValue::from_str(&format!("{POLICY}; frame-ancestors {ancestors}")) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    if ancestors == "'none'" {
        // For browsers that predate frame-ancestors.
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    } else {
        partitioned(headers);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

/// A framed portal's cookies are third-party ones on the operator's site,
/// which browsers that block those drop unless they are `Partitioned`
/// (CHIPS): kept for that site's frames alone, which is all the portal
/// needs. The cookie crate actix-web uses cannot say so, hence the suffix.
fn partitioned(headers: &mut actix_web::http::header::HeaderMap) {
    let cookies: Vec<HeaderValue> = headers.get_all(header::SET_COOKIE).cloned().collect();
    if cookies.is_empty() {
        return;
    }
    headers.remove(header::SET_COOKIE);
    for cookie in cookies {
        let with = cookie
            .to_str()
            .ok()
            .filter(|c| !c.contains("Partitioned"))
            .and_then(|c| HeaderValue::from_str(&format!("{c}; Partitioned")).ok())
            .unwrap_or(cookie);
        headers.append(header::SET_COOKIE, with);
    }
}
