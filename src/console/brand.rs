//! Whose name and colour the portal wears: the operator's, when it sets
//! HOOKRELAY_PORTAL_TITLE and HOOKRELAY_PORTAL_ACCENT, because a customer
//! opening its webhook portal from the operator's product should see that
//! product, not ours. The operator console always says hookrelay.
//!
//! The accent reaches the page as a stylesheet of its own
//! (`/portal/brand.css`), not as an inline style, which the
//! Content-Security-Policy forbids.

use actix_web::http::header;
use actix_web::web::Data;
use actix_web::HttpResponse;

use super::area::Area;
use crate::api::AppState;
use crate::config::Config;

#[derive(Debug, Clone, Default)]
pub struct Brand {
    /// None: hookrelay's own.
    pub name: Option<String>,
    /// Whether pages link `/portal/brand.css`.
    pub accent: bool,
}

impl Brand {
    pub fn of(config: &Config, area: Area) -> Brand {
        match area {
            Area::Console => Brand::default(),
            Area::Portal => Brand {
                name: config.portal_title.clone(),
                accent: config.portal_accent.is_some(),
            },
        }
    }

    /// What page titles end with and the header shows.
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("hookrelay")
    }
}

/// Where pages link the accent's stylesheet.
pub const STYLESHEET: &str = "/portal/brand.css";

/// `/portal/brand.css`: the accent over the console's colours. The colour was
/// checked at start-up (`config::parse_css_color`), so it cannot end the
/// declaration.
pub async fn stylesheet(state: Data<AppState>) -> HttpResponse {
    let css = match &state.config.portal_accent {
        Some(accent) => format!(":root {{ --accent: {accent}; }}\n"),
        None => String::new(),
    };
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .content_type("text/css; charset=utf-8")
        .body(css)
}
