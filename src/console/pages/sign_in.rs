//! Signing in (a pasted token, or the portal link's fragment) and out.

use actix_web::cookie::time::Duration as CookieDuration;
use actix_web::http::StatusCode;
use actix_web::web::Data;
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;

use super::{see_other, NoFields};
use crate::api::auth::Caller;
use crate::api::AppState;
use crate::console::area::Area;
use crate::console::brand::Brand;
use crate::console::csrf::{self, Posted, SignInPosted, SIGN_IN_COOKIE};
use crate::console::error::ConsoleError;
use crate::console::session;
use crate::console::templates::sign_in::{page, Replacing, SignInPage};

/// Who a caller is, as the question about replacing a session names them.
fn describe(caller: &Caller) -> String {
    match caller {
        Caller::Operator => "the operator".to_owned(),
        Caller::Tenant(key) => format!("tenant {}", key.as_str()),
    }
}

/// The token of a sign-in that asked before replacing a session, kept in an
/// `HttpOnly` cookie of its own (never in the question's page, which a
/// credential must not reach) until the answer.
const REPLACING_COOKIE: &str = "hookrelay_replacing";

#[derive(Deserialize)]
pub struct TokenForm {
    /// Absent in the answer to the question: the token is in `REPLACING_COOKIE`.
    #[serde(default)]
    token: String,
    /// "replace": the viewer was asked, and agreed, to end the session the
    /// browser has for another tenant.
    #[serde(default)]
    confirm: String,
}

/// The form, with a fresh double-submit token in a cookie of its own.
fn form_response(
    state: &AppState,
    area: Area,
    status: StatusCode,
    error: Option<&str>,
) -> HttpResponse {
    form_or_question(state, area, status, error, None)
}

/// The form, or (`replacing`) the question whether to replace the session
/// this browser has.
fn form_or_question(
    state: &AppState,
    area: Area,
    status: StatusCode,
    error: Option<&str>,
    replacing: Option<Replacing>,
) -> HttpResponse {
    let token = csrf::sign_in_token();
    let mut cookie = session::cookie(state, area, SIGN_IN_COOKIE, token.clone());
    cookie.set_max_age(CookieDuration::hours(1));
    HttpResponse::build(status)
        .cookie(cookie)
        .content_type("text/html; charset=utf-8")
        .body(
            page(&SignInPage {
                area,
                brand: &Brand::of(&state.config, area),
                token: &token,
                error,
                replacing,
            })
            .into_string(),
        )
}

pub async fn form(state: Data<AppState>, req: HttpRequest) -> HttpResponse {
    let area = Area::of(req.path());
    if area == Area::Console && state.config.api_tokens.is_empty() {
        // Nothing to sign in with: the console is open on loopback.
        return see_other(area.base());
    }
    form_response(&state, area, StatusCode::OK, None)
}

pub async fn submit(
    state: Data<AppState>,
    req: HttpRequest,
    posted: SignInPosted<TokenForm>,
) -> Result<HttpResponse, ConsoleError> {
    let area = posted.area;
    // Counted with the API's bearer tokens: one allowance per address.
    let address = req.peer_addr().map(|a| a.ip());
    if let Some(wait) = state.auth_failures.refused(address) {
        let mut answer = form_response(
            &state,
            area,
            StatusCode::TOO_MANY_REQUESTS,
            Some("Too many sign-ins with a wrong token from this address: wait a minute."),
        );
        answer.headers_mut().insert(
            actix_web::http::header::RETRY_AFTER,
            actix_web::http::header::HeaderValue::from(wait.as_secs().max(1)),
        );
        return Ok(answer);
    }
    let confirmed = posted.form.confirm == "replace";
    let token = match req.cookie(REPLACING_COOKIE) {
        Some(kept) if confirmed && posted.form.token.is_empty() => kept.value().to_owned(),
        _ => posted.form.token.trim().to_owned(),
    };
    let Some(granted) = session::grant(&state, area, &token).await? else {
        state.auth_failures.failed(address);
        tracing::info!(area = area.base(), "console sign-in refused: unknown token");
        return Ok(form_response(
            &state,
            area,
            StatusCode::UNAUTHORIZED,
            Some("That token does not open this console."),
        ));
    };
    // One session at a time: a link must not silently switch a browser that
    // is signed in as one tenant to another (whose webhooks the viewer might
    // then fill with its own URLs and credentials). Asked first; until the
    // answer, the session stays as it was.
    if !confirmed {
        if let Some(now) = session::current(&state, &req, area).await? {
            if now != granted.caller {
                let mut answer = form_or_question(
                    &state,
                    area,
                    StatusCode::OK,
                    None,
                    Some(Replacing {
                        signed_in_as: describe(&now),
                        link_for: describe(&granted.caller),
                    }),
                );
                let mut kept = session::cookie(&state, area, REPLACING_COOKIE, token);
                kept.set_max_age(CookieDuration::minutes(10));
                answer
                    .add_cookie(&kept)
                    .map_err(|e| ConsoleError::BadRequest(format!("cannot keep the token: {e}")))?;
                return Ok(answer);
            }
        }
    }
    let cookie = session::sign_in(&state, area, granted).await?;
    Ok(HttpResponse::SeeOther()
        .cookie(cookie)
        .cookie(session::removal(&state, area, SIGN_IN_COOKIE))
        .cookie(session::removal(&state, area, REPLACING_COOKIE))
        .insert_header((actix_web::http::header::LOCATION, area.base()))
        .finish())
}

pub async fn sign_out(
    state: Data<AppState>,
    req: HttpRequest,
    posted: Posted<NoFields>,
) -> Result<HttpResponse, ConsoleError> {
    let area = posted.viewer.area;
    session::sign_out(&state, &req, area).await?;
    Ok(HttpResponse::SeeOther()
        .cookie(session::removal(&state, area, area.cookie()))
        .insert_header((
            actix_web::http::header::LOCATION,
            format!("{}/sign-in", area.base()),
        ))
        .finish())
}
