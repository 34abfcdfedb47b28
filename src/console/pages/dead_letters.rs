//! `/console/dead-letters`: failed deliveries by webhook; "retry all" posts
//! to the webhook's retry-failed form.

use actix_web::web::Data;
use actix_web::{HttpRequest, HttpResponse};

use super::{html, notice, with_query};
use crate::api::pagination::Query;
use crate::api::AppState;
use crate::console::error::ConsoleError;
use crate::console::session::Viewer;
use crate::console::templates::dead_letters::{page, DeadLettersPage};
use crate::store::dead_letters;

const PAGE: i64 = 50;

pub async fn list(
    state: Data<AppState>,
    viewer: Viewer,
    req: HttpRequest,
) -> Result<HttpResponse, ConsoleError> {
    let query = Query::parse(req.query_string())?;
    // Groups are ordered by webhook id; the cursor is the last one shown.
    let after = query.uuid("after")?;
    // ?tenant= narrows the operator's list to one tenant (a portal's is one already).
    let tenant = query.tenant()?;
    let scope = viewer.caller.list_scope(tenant.as_ref())?;
    let mut groups = dead_letters::by_webhook(&state.db().await?, scope, after, PAGE + 1).await?;
    let next = if groups.len() as i64 > PAGE {
        groups.truncate(PAGE as usize);
        groups.last().map(|g| {
            let mut pairs = vec![("after".to_owned(), g.webhook_id.to_string())];
            if let Some(t) = &tenant {
                pairs.push(("tenant".to_owned(), t.as_str().to_owned()));
            }
            with_query(&viewer.href("/dead-letters"), &pairs)
        })
    } else {
        None
    };
    Ok(html(page(&DeadLettersPage {
        viewer: &viewer,
        groups: &groups,
        next,
        tenant: tenant.map(|t| t.as_str().to_owned()).unwrap_or_default(),
        notice: notice(&query),
    })))
}
