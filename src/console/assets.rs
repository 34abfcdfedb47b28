//! The console's stylesheet and script, compiled into the binary and served
//! by hookrelay itself under names that carry a hash of their content
//! (`/assets/console-<hash>.css`): a browser may keep them for a year, and a
//! new build's files have new names. An ETag answers revalidations all the
//! same. No CDN, no bundler: two hand-written files.

use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::web::{self, Path};
use actix_web::{HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};

struct Asset {
    /// `/assets/console-<hash>.<ext>`
    path: String,
    etag: String,
    content_type: &'static str,
    body: &'static [u8],
}

fn asset(stem: &str, ext: &str, content_type: &'static str, body: &'static [u8]) -> Asset {
    let digest = Sha256::digest(body);
    let hash: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    Asset {
        path: format!("/assets/{stem}-{hash}.{ext}"),
        etag: format!("\"{hash}\""),
        content_type,
        body,
    }
}

static STYLESHEET: LazyLock<Asset> = LazyLock::new(|| {
    asset(
        "console",
        "css",
        "text/css; charset=utf-8",
        include_bytes!("assets/console.css"),
    )
});

static SCRIPT: LazyLock<Asset> = LazyLock::new(|| {
    asset(
        "console",
        "js",
        "text/javascript; charset=utf-8",
        include_bytes!("assets/console.js"),
    )
});

/// Where pages link the stylesheet.
pub fn stylesheet() -> &'static str {
    &STYLESHEET.path
}

/// Where pages load the script.
pub fn script() -> &'static str {
    &SCRIPT.path
}

pub fn service() -> actix_web::Resource {
    web::resource("/assets/{name}").route(web::get().to(serve))
}

async fn serve(req: HttpRequest, name: Path<String>) -> HttpResponse {
    let path = format!("/assets/{name}");
    let Some(asset) = [&*STYLESHEET, &*SCRIPT]
        .into_iter()
        .find(|a| a.path == path)
    else {
        return HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("no such asset");
    };
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == asset.etag));
    let mut answer = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    answer
        .insert_header((header::ETAG, asset.etag.clone()))
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    if fresh {
        return answer.finish();
    }
    answer.content_type(asset.content_type).body(asset.body)
}
