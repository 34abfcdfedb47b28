//! Query strings and keyset pagination shared by every list.
//!
//! The cursor is opaque to clients: base64url of the last row's `created_at`
//! (microseconds) and key (its id, or the name of an event type), so the next
//! page is an index range scan, however deep.

use std::collections::HashMap;
use std::fmt::Display;
use std::str::FromStr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::ApiError;
use crate::domain::TenantKey;
use crate::store::Page;

/// The query string, parsed once; unknown parameters are ignored.
pub struct Query(HashMap<String, String>);

impl Query {
    pub fn parse(query_string: &str) -> Result<Query, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query_string)
            .map_err(|e| ApiError::BadRequest(format!("the query string is malformed: {e}")))?;
        Ok(Query(pairs.into_iter().collect()))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub fn uuid(&self, name: &str) -> Result<Option<Uuid>, ApiError> {
        self.get(name)
            .map(|v| Uuid::parse_str(v).map_err(|_| ApiError::invalid(name, "must be a UUID")))
            .transpose()
    }

    /// `?tenant=`, which every list takes (see `auth::Caller::list_scope`).
    pub fn tenant(&self) -> Result<Option<TenantKey>, ApiError> {
        self.get("tenant")
            .map(|v| TenantKey::parse(v).map_err(|e| ApiError::invalid("tenant", e)))
            .transpose()
    }

    pub fn time(&self, name: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
        self.get(name)
            .map(|v| {
                DateTime::parse_from_rfc3339(v)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|_| {
                        ApiError::invalid(
                            name,
                            "must be an RFC 3339 time, like 2026-01-02T03:04:05Z",
                        )
                    })
            })
            .transpose()
    }

    pub fn page(&self) -> Result<Page, ApiError> {
        self.page_by()
    }

    /// A page of a list ordered by `(created_at, K)`.
    pub fn page_by<K: FromStr>(&self) -> Result<Page<K>, ApiError> {
        let limit = match self.get("limit") {
            None => 50,
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=500).contains(n))
                .ok_or_else(|| {
                    ApiError::invalid("limit", "must be a whole number from 1 to 500")
                })?,
        };
        let after = self.get("cursor").map(decode_cursor).transpose()?;
        Ok(Page { after, limit })
    }
}

fn decode_cursor<K: FromStr>(s: &str) -> Result<(DateTime<Utc>, K), ApiError> {
    let bad = || ApiError::invalid("cursor", "is not a cursor from a previous page");
    let bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (micros, id) = text.split_once('.').ok_or_else(bad)?;
    let time =
        DateTime::from_timestamp_micros(micros.parse().map_err(|_| bad())?).ok_or_else(bad)?;
    Ok((time, id.parse().map_err(|_| bad())?))
}

fn encode_cursor(time: DateTime<Utc>, id: impl Display) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}.{}", time.timestamp_micros(), id))
}

/// `{"data": [...], "next_cursor": ...}`, from rows fetched with one extra.
/// The OpenAPI document names one page schema per list instead
/// (`schema::DeliveryPage`, …): a generic one would repeat its item inline.
#[derive(Serialize)]
pub struct Paginated<T> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Paginated<T> {
    pub fn new<K: Display>(
        mut rows: Vec<T>,
        page: Page<K>,
        key: impl Fn(&T) -> (DateTime<Utc>, K),
    ) -> Paginated<T> {
        let limit = usize::try_from(page.limit).unwrap_or(usize::MAX);
        let next_cursor = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(|r| {
                let (t, id) = key(r);
                encode_cursor(t, id)
            })
        } else {
            None
        };
        Paginated {
            data: rows,
            next_cursor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let t = DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap();
        let id = Uuid::now_v7();
        assert_eq!(decode_cursor(&encode_cursor(t, id)).unwrap(), (t, id));
        assert!(decode_cursor::<Uuid>("garbage!").is_err());
        assert!(decode_cursor::<Uuid>(&URL_SAFE_NO_PAD.encode("1.notauuid")).is_err());
        let name = "order.created:v2".to_owned();
        assert_eq!(
            decode_cursor::<String>(&encode_cursor(t, &name)).unwrap(),
            (t, name)
        );
    }

    #[test]
    fn limits_outside_1_to_500_are_refused() {
        for bad in [
            "limit=0",
            "limit=-1",
            "limit=501",
            "limit=1000000000000",
            "limit=abc",
        ] {
            assert!(Query::parse(bad).unwrap().page().is_err(), "{bad}");
        }
        assert_eq!(
            Query::parse("limit=500").unwrap().page().unwrap().limit,
            500
        );
    }
}
