//! The sign-in form: a pasted token. In the portal, the script fills the same
//! form from the link's fragment and submits it.

use maud::{html, Markup};

use super::bare;
use crate::console::area::Area;
use crate::console::csrf;

pub struct SignInPage<'a> {
    pub area: Area,
    /// The double-submit token, also set in the sign-in cookie.
    pub token: &'a str,
    pub error: Option<&'a str>,
}

pub fn page(p: &SignInPage) -> Markup {
    let (title, label, hint) = match p.area {
        Area::Console => (
            "Sign in",
            "API token",
            "One of the tokens in HOOKRELAY_API_TOKENS.",
        ),
        Area::Portal => (
            "Open your portal",
            "Portal token",
            "Opening the link you were given signs you in; or paste its token (the part after #).",
        ),
    };
    bare(
        p.area,
        title,
        p.area == Area::Portal,
        html! {
            div.panel.sign-in {
                h1 { (title) }
                @if let Some(e) = p.error {
                    div.notice.error role="alert" { (e) }
                }
                form #fragment-sign-in method="post" action={ (p.area.base()) "/sign-in" } {
                    input type="hidden" name=(csrf::FIELD) value=(p.token);
                    div.field {
                        label for="token" { (label) }
                        input #token type="password" name="token" autocomplete="off" required
                            aria-describedby="token-hint";
                        div.hint #token-hint { (hint) }
                    }
                    button type="submit" { "Sign in" }
                }
            }
        },
    )
}
