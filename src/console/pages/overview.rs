//! `/console`: the last hour, the queue, and the webhooks failing most.

use actix_web::web::Data;
use actix_web::HttpResponse;
use chrono::Utc;

use super::html;
use crate::api::AppState;
use crate::console::chart;
use crate::console::error::ConsoleError;
use crate::console::session::Viewer;
use crate::console::templates::overview::{page, OverviewPage};
use crate::store::stats;

/// Webhooks shown under "failing most".
const FAILING_SHOWN: i64 = 10;

pub async fn show(state: Data<AppState>, viewer: Viewer) -> Result<HttpResponse, ConsoleError> {
    let client = state.db().await?;
    let minutes = stats::last_hour(&client, viewer.scope()).await?;
    let queue = stats::queue(&client, viewer.scope()).await?;
    let failing = stats::failing_webhooks(&client, viewer.scope(), FAILING_SHOWN).await?;
    let now = Utc::now();
    Ok(html(page(&OverviewPage {
        viewer: &viewer,
        chart: chart::last_hour(&chart::buckets(now, &minutes)),
        queue: &queue,
        failing: &failing,
        now,
    })))
}
