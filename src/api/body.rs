//! Reading request bodies: content type, size limit, JSON.
//!
//! The limit is enforced while the body streams in (and up front from
//! Content-Length), so an oversized body is never buffered whole. Malformed
//! JSON is a 400; JSON of the wrong shape is a 422 that names the field.

use actix_web::web::{Bytes, BytesMut, Payload};
use actix_web::HttpRequest;
use futures_util::StreamExt;
use serde::Deserialize;

use super::ApiError;

pub async fn read_json_body(
    req: &HttpRequest,
    payload: Payload,
    limit: usize,
) -> Result<Bytes, ApiError> {
    check_json(req)?;
    let body = read_bounded(req, payload, limit).await?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::BadRequest(
            "the request body is empty; send a JSON object".into(),
        ));
    }
    Ok(body)
}

/// For a route whose body may be left out: `None` when there is none (then
/// the Content-Type does not matter), else the body as `read_json_body` reads it.
pub async fn read_optional_json_body(
    req: &HttpRequest,
    payload: Payload,
    limit: usize,
) -> Result<Option<Bytes>, ApiError> {
    let body = read_bounded(req, payload, limit).await?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    check_json(req)?;
    Ok(Some(body))
}

fn check_json(req: &HttpRequest) -> Result<(), ApiError> {
    let content_type = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence != "application/json" && !essence.ends_with("+json") {
        return Err(ApiError::UnsupportedMediaType(format!(
            "Content-Type must be application/json, got {:?}",
            content_type
        )));
    }
    Ok(())
}

/// The whole body, refused as soon as it is known to be over `limit`.
async fn read_bounded(
    req: &HttpRequest,
    mut payload: Payload,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::TooLarge(limit));
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk
            .map_err(|e| ApiError::BadRequest(format!("could not read the request body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::TooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Parses JSON, naming the field at fault when the shape is wrong.
pub fn parse<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                if path == "." {
                    ApiError::Invalid(format!("body: {inner}"))
                } else {
                    ApiError::Invalid(format!("{path}: {inner}"))
                }
            }
            _ => ApiError::BadRequest(format!("the body is not valid JSON: {inner}")),
        }
    })?;
    de.end()
        .map_err(|e| ApiError::BadRequest(format!("the body is not valid JSON: {e}")))?;
    Ok(value)
}
