//! The page every console error is shown as.

use actix_web::http::StatusCode;
use maud::{html, Markup};

use super::bare;
use crate::console::area::Area;
use crate::console::brand::Brand;

pub fn page(area: Area, brand: &Brand, status: StatusCode, message: &str) -> Markup {
    let title = status.canonical_reason().unwrap_or("Error");
    bare(
        area,
        brand,
        title,
        false,
        html! {
            div.panel {
                h1 { (status.as_u16()) " · " (title) }
                p.wrap { (message) }
                p { a href=(area.base()) { "Back to the overview" } }
            }
        },
    )
}
