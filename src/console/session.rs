//! Who is looking: sessions, their cookies, and the `Viewer` every page takes.
//!
//! A session is 32 random bytes in an `HttpOnly`, `SameSite=Strict` cookie
//! (`Secure` when HOOKRELAY_PUBLIC_URL is https), one cookie per area. The
//! database keeps only its SHA-256 (`store::sessions`), so sessions are good
//! in every process sharing the database, end for all of them at sign-out or
//! after 12 hours idle, and a copy of the table opens none of them. Signed
//! cookies would have spared the lookup, but could be neither signed out nor
//! timed out when idle without such a table anyway.
//!
//! A session remembers the SHA-256 of the token it was opened with: an
//! operator's lasts only while that token is still in HOOKRELAY_API_TOKENS, a
//! tenant's (the portal) only while its token is unexpired and unrevoked and
//! its tenant not deleted (checked in the statement that finds it).
//! With no tokens configured (loopback only) the console needs no sign-in; a
//! session is still opened on the first visit, silently, because the
//! anti-forgery token is derived from it.

use std::future::{ready, Future};
use std::pin::Pin;
use std::time::Duration;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::web::Data;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::area::Area;
use super::brand::Brand;
use super::csrf;
use super::error::ConsoleError;
use crate::api::auth::Caller;
use crate::api::AppState;
use crate::domain::TenantKey;
use crate::store::sessions::{self, NewSession};
use crate::store::{tenants, Scope};

/// A session idle this long is over.
pub const IDLE: Duration = Duration::from_secs(12 * 3600);

/// Who is looking at a page, through which area, and the anti-forgery token
/// their forms must carry.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub area: Area,
    /// Decided once, when the session was found; every read and write of the
    /// page is limited by it, as the API's are.
    pub caller: Caller,
    csrf: String,
    /// False when no sign-in is needed (no API tokens configured): nothing to sign out of.
    pub signed_in: bool,
    pub brand: Brand,
}

impl Viewer {
    /// What every store call of the page is limited to.
    pub fn scope(&self) -> Scope<'_> {
        self.caller.scope()
    }

    pub fn csrf(&self) -> &str {
        &self.csrf
    }

    /// An address in this viewer's area: `href("/webhooks")` is `/console/webhooks` or `/portal/webhooks`.
    pub fn href(&self, path: &str) -> String {
        format!("{}{path}", self.area.base())
    }

    pub fn csrf_matches(&self, given: &str) -> bool {
        !given.is_empty() && bool::from(self.csrf.as_bytes().ct_eq(given.as_bytes()))
    }
}

/// A cookie to set on the answer to this request (a session opened without
/// sign-in); `headers::secure` adds it.
#[derive(Clone)]
pub struct PendingCookie(pub Cookie<'static>);

impl FromRequest for Viewer {
    type Error = ConsoleError;
    type Future = Pin<Box<dyn Future<Output = Result<Viewer, ConsoleError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        if let Some(viewer) = req.extensions().get::<Viewer>() {
            return Box::pin(ready(Ok(viewer.clone())));
        }
        let req = req.clone();
        Box::pin(async move {
            let viewer = resolve(&req).await?;
            req.extensions_mut().insert(viewer.clone());
            Ok(viewer)
        })
    }
}

fn state(req: &HttpRequest) -> Result<&Data<AppState>, ConsoleError> {
    req.app_data::<Data<AppState>>()
        .ok_or_else(|| ConsoleError::NotFound("the console is not set up here".into()))
}

pub fn sha256(bytes: &[u8]) -> Vec<u8> {
    Sha256::digest(bytes).to_vec()
}

/// True when `hash` is the SHA-256 of one of the configured API tokens.
fn is_configured_token(state: &AppState, hash: &[u8]) -> bool {
    state
        .config
        .api_tokens
        .iter()
        .fold(subtle::Choice::from(0), |acc, t| {
            acc | sha256(t.as_bytes()).ct_eq(hash)
        })
        .into()
}

async fn resolve(req: &HttpRequest) -> Result<Viewer, ConsoleError> {
    let state = state(req)?;
    let area = Area::of(req.path());
    if let Some(cookie) = req.cookie(area.cookie()) {
        if let Some(viewer) = find(state, area, cookie.value()).await? {
            return Ok(viewer);
        }
    }
    if area == Area::Console && state.config.api_tokens.is_empty() {
        let (raw, cookie) = open(state, area, &Caller::Operator, None).await?;
        req.extensions_mut().insert(PendingCookie(cookie));
        return Ok(viewer(state, area, Caller::Operator, &raw, false));
    }
    Err(ConsoleError::SignIn(area))
}

fn viewer(state: &AppState, area: Area, caller: Caller, raw: &str, signed_in: bool) -> Viewer {
    Viewer {
        brand: Brand::of(&state.config, area),
        area,
        caller,
        csrf: csrf::token_for(raw),
        signed_in,
    }
}

/// The viewer a session cookie stands for, if its session is alive, belongs
/// to this area, and the token it was opened with still holds.
async fn find(state: &AppState, area: Area, raw: &str) -> Result<Option<Viewer>, ConsoleError> {
    let client = state.db().await?;
    let Some(session) = sessions::find(&client, &sha256(raw.as_bytes()), IDLE).await? else {
        return Ok(None);
    };
    let caller = match session.tenant {
        None => Caller::Operator,
        Some(tenant) => match TenantKey::parse(&tenant) {
            Ok(key) => Caller::Tenant(key),
            Err(_) => return Ok(None),
        },
    };
    if Area::of_caller(&caller) != area {
        return Ok(None);
    }
    let token_holds = match (&caller, &session.token_hash) {
        (Caller::Operator, Some(hash)) => is_configured_token(state, hash),
        (Caller::Operator, None) => state.config.api_tokens.is_empty(),
        // A tenant token's expiry, revocation and tenant are checked in the statement.
        (Caller::Tenant(_), hash) => hash.is_some(),
    };
    Ok(token_holds.then(|| viewer(state, area, caller, raw, true)))
}

/// Who the request's session cookie signs in as in `area`, if anyone:
/// what a sign-in would replace.
pub async fn current(
    state: &AppState,
    req: &HttpRequest,
    area: Area,
) -> Result<Option<Caller>, ConsoleError> {
    let Some(cookie) = req.cookie(area.cookie()) else {
        return Ok(None);
    };
    Ok(find(state, area, cookie.value()).await?.map(|v| v.caller))
}

/// Opens a session for `caller`; returns its raw value and its cookie.
async fn open(
    state: &AppState,
    area: Area,
    caller: &Caller,
    token_hash: Option<&[u8]>,
) -> Result<(String, Cookie<'static>), ConsoleError> {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let raw = URL_SAFE_NO_PAD.encode(bytes);
    let new = NewSession {
        id_hash: &sha256(raw.as_bytes()),
        tenant: match caller {
            Caller::Operator => None,
            Caller::Tenant(key) => Some(key.as_str()),
        },
        token_hash,
    };
    sessions::open(&state.db().await?, &new, IDLE).await?;
    let cookie = cookie(state, area, area.cookie(), raw.clone());
    Ok((raw, cookie))
}

/// A cookie as every console cookie is: for this area's path only, out of
/// scripts' reach, never sent by another site's request, except the
/// portal's when the operator lets other sites frame it
/// (HOOKRELAY_PORTAL_FRAME_ANCESTORS): inside a frame on another site every
/// request is cross-site, so those are `SameSite=None` (which browsers take
/// only with `Secure`), and forgery protection rests on the anti-forgery
/// token, which every form carries anyway (`csrf.rs`).
pub fn cookie(state: &AppState, area: Area, name: &'static str, value: String) -> Cookie<'static> {
    let framed = area == Area::Portal && state.config.portal_frame_ancestors != "'none'";
    let https = state
        .config
        .public_url
        .as_ref()
        .is_some_and(|u| u.scheme() == "https");
    Cookie::build(name, value)
        .path(area.base())
        .http_only(true)
        .same_site(if framed {
            SameSite::None
        } else {
            SameSite::Strict
        })
        .secure(https || framed)
        .finish()
}

/// A cookie that removes `name`.
pub fn removal(state: &AppState, area: Area, name: &'static str) -> Cookie<'static> {
    let mut c = cookie(state, area, name, String::new());
    c.make_removal();
    c
}

/// What a token signs in as, if anything.
pub struct Granted {
    pub caller: Caller,
    pub token_hash: Vec<u8>,
}

/// Who `token` signs in as in `area`: an operator token in the console, a
/// tenant token (an unexpired, unrevoked `hrt_...` of a tenant that still
/// exists, as the API takes it) in the portal.
pub async fn grant(
    state: &AppState,
    area: Area,
    token: &str,
) -> Result<Option<Granted>, ConsoleError> {
    let token = token.trim();
    let hash = sha256(token.as_bytes());
    let caller = match area {
        Area::Console => is_configured_token(state, &hash).then_some(Caller::Operator),
        Area::Portal => tenants::token_tenant(&state.db().await?, token)
            .await?
            .and_then(|t| TenantKey::parse(&t).ok())
            .map(Caller::Tenant),
    };
    Ok(caller.map(|caller| Granted {
        caller,
        token_hash: hash,
    }))
}

/// Signs in: a new session for what `granted` allows; returns its cookie.
pub async fn sign_in(
    state: &AppState,
    area: Area,
    granted: Granted,
) -> Result<Cookie<'static>, ConsoleError> {
    let (_, cookie) = open(state, area, &granted.caller, Some(&granted.token_hash)).await?;
    Ok(cookie)
}

/// Ends the session the request's cookie names, in every process.
pub async fn sign_out(state: &AppState, req: &HttpRequest, area: Area) -> Result<(), ConsoleError> {
    if let Some(cookie) = req.cookie(area.cookie()) {
        sessions::close(&state.db().await?, &sha256(cookie.value().as_bytes())).await?;
    }
    Ok(())
}
