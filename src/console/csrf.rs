//! Protection against cross-site request forgery.
//!
//! `SameSite=Strict` already keeps the session cookie off other sites'
//! requests, but that leans on every browser and on no sibling subdomain ever
//! being hostile; so every form also carries a token the attacker cannot
//! know. It is derived from the session's secret value (an HMAC of it), so it
//! needs no storage and is the same in every process. The only way for a
//! handler to read a posted form is `Posted<T>`, which checks the token first.
//!
//! The sign-in form has no session yet: it carries a random value that is
//! also set in a short-lived cookie of its own (double submit), so another
//! site cannot sign a browser into a session of its choosing.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpRequest};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::de::DeserializeOwned;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::area::Area;
use super::error::ConsoleError;
use super::session::Viewer;

/// The anti-forgery token of the session whose cookie value is `raw`.
pub fn token_for(raw: &str) -> String {
    // HMAC takes keys of any length; were it ever to refuse, the empty token
    // matches no form, so every post fails closed.
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(raw.as_bytes()) else {
        return String::new();
    };
    mac.update(b"hookrelay console anti-forgery token");
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// The name of the field every form carries the token in.
pub const FIELD: &str = "csrf";

/// The value of the `csrf` field of a urlencoded body, or "".
fn token_in(body: &[u8]) -> String {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .ok()
        .and_then(|fields| fields.into_iter().find(|(k, _)| k == FIELD))
        .map(|(_, v)| v)
        .unwrap_or_default()
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ConsoleError> {
    serde_urlencoded::from_bytes(body)
        .map_err(|e| ConsoleError::BadRequest(format!("the form is not as expected: {e}")))
}

/// A posted form whose anti-forgery token matched the viewer's session.
pub struct Posted<T> {
    pub viewer: Viewer,
    pub form: T,
}

impl<T: DeserializeOwned + 'static> FromRequest for Posted<T> {
    type Error = ConsoleError;
    type Future = Pin<Box<dyn Future<Output = Result<Posted<T>, ConsoleError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let viewer = Viewer::from_request(req, payload);
        let body = Bytes::from_request(req, payload);
        Box::pin(async move {
            let viewer = viewer.await?;
            let body = body
                .await
                .map_err(|e| ConsoleError::BadRequest(format!("cannot read the form: {e}")))?;
            if !viewer.csrf_matches(&token_in(&body)) {
                return Err(ConsoleError::Forgery);
            }
            Ok(Posted {
                viewer,
                form: parse(&body)?,
            })
        })
    }
}

/// The cookie that holds the sign-in form's token.
pub const SIGN_IN_COOKIE: &str = "hookrelay_sign_in";

/// A fresh token for a sign-in form (and its cookie).
pub fn sign_in_token() -> String {
    let mut bytes = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A posted sign-in form whose token matches its cookie.
pub struct SignInPosted<T> {
    pub area: Area,
    pub form: T,
}

impl<T: DeserializeOwned + 'static> FromRequest for SignInPosted<T> {
    type Error = ConsoleError;
    type Future = Pin<Box<dyn Future<Output = Result<SignInPosted<T>, ConsoleError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let area = Area::of(req.path());
        let expected = req
            .cookie(SIGN_IN_COOKIE)
            .map(|c| c.value().to_owned())
            .unwrap_or_default();
        let body = Bytes::from_request(req, payload);
        Box::pin(async move {
            let body = body
                .await
                .map_err(|e| ConsoleError::BadRequest(format!("cannot read the form: {e}")))?;
            let given = token_in(&body);
            if expected.is_empty() || !bool::from(expected.as_bytes().ct_eq(given.as_bytes())) {
                return Err(ConsoleError::Forgery);
            }
            Ok(SignInPosted {
                area,
                form: parse(&body)?,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_fixed_per_session_and_differs_between_sessions() {
        assert_eq!(token_for("a"), token_for("a"));
        assert_ne!(token_for("a"), token_for("b"));
        assert_eq!(token_in(b"x=1&csrf=abc%2Bd"), "abc+d");
        assert_eq!(token_in(b"x=1"), "");
    }
}
