//! `/console/tenants`: the operator's tenants (the portal has no such page).

use actix_web::web::Data;
use actix_web::{HttpRequest, HttpResponse};

use super::{html, with_query};
use crate::api::auth::Caller;
use crate::api::pagination::{Paginated, Query};
use crate::api::AppState;
use crate::console::error::ConsoleError;
use crate::console::session::Viewer;
use crate::console::templates::tenants::{page, TenantsPage};
use crate::store::tenants;

pub async fn list(
    state: Data<AppState>,
    viewer: Viewer,
    req: HttpRequest,
) -> Result<HttpResponse, ConsoleError> {
    // Mounted under /console only, whose sessions are the operator's; said
    // again here, where a mistake would list every tenant.
    if viewer.caller != Caller::Operator {
        return Err(ConsoleError::NotFound("there is no such page".into()));
    }
    let query = Query::parse(req.query_string())?;
    let page_of = query.page_by::<String>()?;
    let rows = tenants::list(&state.db().await?, &page_of).await?;
    let listed = Paginated::new(rows, page_of, |t| (t.created_at, t.key.clone()));
    let next = listed
        .next_cursor
        .map(|c| with_query(&viewer.href("/tenants"), &[("cursor".to_owned(), c)]));
    Ok(html(page(&TenantsPage {
        viewer: &viewer,
        tenants: &listed.data,
        next,
    })))
}
