//! `/console/tenants`: the operator's tenants (the portal has no such page),
//! and the button on each row that makes a portal link, shown once.

use actix_web::http::StatusCode;
use actix_web::web::{Data, Path};
use actix_web::{HttpRequest, HttpResponse};

use super::{html, page_with, with_query, NoFields};
use crate::api::auth::Caller;
use crate::api::pagination::{Paginated, Query};
use crate::api::AppState;
use crate::console::csrf::Posted;
use crate::console::error::ConsoleError;
use crate::console::session::Viewer;
use crate::console::templates::tenants::{page, PortalLink, TenantsPage};
use crate::domain::TenantKey;
use crate::service;
use crate::store::tenants::{self, TokenKind};

pub async fn list(
    state: Data<AppState>,
    viewer: Viewer,
    req: HttpRequest,
) -> Result<HttpResponse, ConsoleError> {
    let query = Query::parse(req.query_string())?;
    Ok(html(render(&state, &viewer, &query, None).await?))
}

async fn render(
    state: &AppState,
    viewer: &Viewer,
    query: &Query,
    link: Option<PortalLink>,
) -> Result<maud::Markup, ConsoleError> {
    // Mounted under /console only, whose sessions are the operator's; said
    // again here, where a mistake would list every tenant.
    if viewer.caller != Caller::Operator {
        return Err(ConsoleError::NotFound("there is no such page".into()));
    }
    let page_of = query.page_by::<String>()?;
    let rows = tenants::list(&state.db().await?, &page_of).await?;
    let listed = Paginated::new(rows, page_of, |t| (t.created_at, t.key.clone()));
    let next = listed
        .next_cursor
        .map(|c| with_query(&viewer.href("/tenants"), &[("cursor".to_owned(), c)]));
    Ok(page(&TenantsPage {
        viewer,
        tenants: &listed.data,
        next,
        link,
    }))
}

/// Makes a portal link for the tenant, as `POST /tenants/{key}/portal` does
/// with its default lifetime, and shows it on the tenants page: once, since
/// only its hash is kept.
pub async fn portal_link(
    state: Data<AppState>,
    raw: Path<String>,
    posted: Posted<NoFields>,
) -> Result<HttpResponse, ConsoleError> {
    let viewer = &posted.viewer;
    if viewer.caller != Caller::Operator {
        return Err(ConsoleError::NotFound("there is no such page".into()));
    }
    let key = TenantKey::parse(&raw)
        .map_err(|_| ConsoleError::NotFound(format!("no tenant {:?}", raw.as_str())))?;
    // Tenant default's row carries no button; a post for it anyway gets the
    // API's answer (409).
    let (token, expires_at) = service::tenants::issue_token(
        &state,
        &key,
        TokenKind::Portal,
        service::tenants::DEFAULT_TTL,
    )
    .await?;
    let link = PortalLink {
        tenant: key.as_str().to_owned(),
        url: service::tenants::portal_url(&state, &token),
        expires_at,
    };
    let query = Query::parse("")?;
    let body = render(&state, viewer, &query, Some(link)).await?;
    Ok(page_with(StatusCode::OK, body.into_string()))
}
