//! The sign-in form: a pasted token. In the portal, the script fills the same
//! form from the link's fragment and submits it.

use maud::{html, Markup};

use super::bare;
use crate::console::area::Area;
use crate::console::brand::Brand;
use crate::console::csrf;

pub struct SignInPage<'a> {
    pub area: Area,
    pub brand: &'a Brand,
    /// The double-submit token, also set in the sign-in cookie.
    pub token: &'a str,
    pub error: Option<&'a str>,
    /// A sign-in that would end the browser's session for someone else:
    /// asked about, not done.
    pub replacing: Option<Replacing>,
}

/// Who the browser is signed in as, and who the link is for. The link's
/// token waits in a cookie (`pages::sign_in`), not in this page.
pub struct Replacing {
    pub signed_in_as: String,
    pub link_for: String,
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
        p.brand,
        title,
        p.area == Area::Portal && p.replacing.is_none(),
        html! {
            @if let Some(r) = &p.replacing {
                div.panel.sign-in #replace-session {
                    h1 { "Switch portals?" }
                    p { "This browser is signed in as " strong { (r.signed_in_as) } ". The link you opened is for " strong { (r.link_for) } "." }
                    p { "Switching signs you out of " (r.signed_in_as) ". Only switch if you expected a link for " (r.link_for) "." }
                    form #replace-form method="post" action={ (p.area.base()) "/sign-in" } {
                        input type="hidden" name=(csrf::FIELD) value=(p.token);
                        input type="hidden" name="confirm" value="replace";
                        div.actions {
                            button #replace type="submit" { "Switch to " (r.link_for) }
                            a.button.secondary #stay href=(p.area.base()) { "Stay as " (r.signed_in_as) }
                        }
                    }
                }
            } @else {
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
            }
        },
    )
}
