//! Custom headers a webhook sends with every attempt (`{"name": "value"}`).
//!
//! They ride along unsigned, after the headers hookrelay sets itself, so a
//! client may add what its receiver wants (an `Authorization`, a routing key)
//! but may replace none of hookrelay's own: the content type, the user agent,
//! the id and signature headers a receiver verifies by. Headers that describe
//! the connection rather than the message (hop-by-hop ones, `Host`,
//! `Content-Length`) belong to the HTTP client and are refused too.
//!
//! Their values are credentials more often than not, so they are write-only,
//! like the signing secret: everything hookrelay shows or records of them
//! (reads, lists, attempt logs, the console) carries `MASKED` in each value's
//! place, and only `GET /webhooks/{id}/headers` answers the values. A change
//! that gives `MASKED` as a value keeps the stored one, so a client can send
//! back what it read.

use std::collections::BTreeMap;

/// Most headers one webhook may carry.
pub const MAX_HEADERS: usize = 20;
const MAX_NAME: usize = 64;
const MAX_VALUE: usize = 1024;

/// What every read shows in place of a header's value.
pub const MASKED: &str = "••••";

/// `{"name": "value", ...}` with every value replaced by `MASKED`; anything
/// that is not an object (null: no headers) as it is.
pub fn mask_headers(headers: serde_json::Value) -> serde_json::Value {
    match headers {
        serde_json::Value::Object(map) => map
            .into_iter()
            .map(|(name, _)| (name, serde_json::Value::from(MASKED)))
            .collect(),
        other => other,
    }
}

/// Names a client may not set, compared case-insensitively.
const RESERVED: [&str; 20] = [
    // Set by hookrelay on every attempt.
    "Content-Type",
    "User-Agent",
    "X-Delivery-ID",
    "X-Webhook-Event",
    "X-Webhook-Signature",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    // Set by hookrelay on the attempts of an event that carries a trace context.
    "traceparent",
    "tracestate",
    // The connection's, not the message's (RFC 9110 §7.6.1, and the framing).
    "Connection",
    "Keep-Alive",
    "Proxy-Authenticate",
    "Proxy-Authorization",
    "TE",
    "Trailer",
    "Transfer-Encoding",
    "Upgrade",
    "Content-Length",
    "Host",
];

/// Up to 20 headers with valid, unreserved names (distinct however cased) and
/// single-line printable values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomHeaders(BTreeMap<String, String>);

impl CustomHeaders {
    pub fn parse(headers: BTreeMap<String, String>) -> Result<CustomHeaders, String> {
        if let Some(name) = headers.iter().find(|(_, v)| *v == MASKED).map(|(n, _)| n) {
            return Err(format!(
                "the value of {name:?} is {MASKED:?}, what reads show in place of a value: give the value itself"
            ));
        }
        CustomHeaders::parse_change(headers)
    }

    /// As `parse`, for a change to a webhook that has headers already: a value
    /// of `MASKED` stands for the one stored under that name.
    pub fn parse_change(headers: BTreeMap<String, String>) -> Result<CustomHeaders, String> {
        if headers.len() > MAX_HEADERS {
            return Err(format!(
                "at most {MAX_HEADERS} headers are allowed, got {}",
                headers.len()
            ));
        }
        let mut seen: Vec<String> = Vec::with_capacity(headers.len());
        for (name, value) in &headers {
            check_name(name)?;
            if value != MASKED {
                check_value(name, value)?;
            }
            let folded = name.to_ascii_lowercase();
            if seen.contains(&folded) {
                return Err(format!(
                    "{name:?} is given twice (header names ignore case)"
                ));
            }
            seen.push(folded);
        }
        Ok(CustomHeaders(headers))
    }

    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    /// The names whose value is `MASKED`: to be kept as stored.
    pub fn kept(&self) -> impl Iterator<Item = &str> {
        self.0
            .iter()
            .filter(|(_, v)| *v == MASKED)
            .map(|(n, _)| n.as_str())
    }
}

fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(format!(
            "header name {name:?} must be 1 to {MAX_NAME} characters"
        ));
    }
    // RFC 9110 §5.6.2: a token.
    if let Some(bad) = name.chars().find(|c| !is_tchar(*c)) {
        return Err(format!(
            "header name {name:?} holds {bad:?}; a name is letters, digits and !#$%&'*+-.^_`|~"
        ));
    }
    if let Some(reserved) = RESERVED.iter().find(|r| r.eq_ignore_ascii_case(name)) {
        return Err(format!(
            "{name:?} cannot be set: hookrelay or the HTTP connection sets {reserved} itself"
        ));
    }
    Ok(())
}

fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

fn check_value(name: &str, value: &str) -> Result<(), String> {
    if value.len() > MAX_VALUE {
        return Err(format!(
            "the value of {name:?} is longer than {MAX_VALUE} characters"
        ));
    }
    // Visible ASCII and spaces: no CR or LF to smuggle in another header, no
    // bytes a receiver's parser may read differently. Edge spaces would be
    // stripped on the way, so what is stored would not be what arrives.
    if !value.chars().all(|c| c == ' ' || c.is_ascii_graphic()) {
        return Err(format!(
            "the value of {name:?} may hold only visible ASCII characters and spaces (no CR, LF or tab)"
        ));
    }
    if value.starts_with(' ') || value.ends_with(' ') {
        return Err(format!(
            "the value of {name:?} must not begin or end with a space"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<CustomHeaders, String> {
        CustomHeaders::parse(
            pairs
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn ordinary_headers_are_kept() {
        let h = parse(&[
            ("Authorization", "Bearer abc"),
            ("X-Tenant", "42"),
            ("x-empty", ""),
        ])
        .expect("valid");
        assert_eq!(h.as_map().len(), 3);
        assert!(parse(&[]).is_ok());
    }

    #[test]
    fn hookrelays_own_and_connection_headers_are_refused_however_cased() {
        for name in [
            "content-type",
            "Host",
            "WEBHOOK-SIGNATURE",
            "transfer-encoding",
            "te",
        ] {
            let e = parse(&[(name, "x")]).expect_err(name);
            assert!(e.contains(name), "{e}");
        }
    }

    #[test]
    fn names_are_tokens_and_values_single_lines() {
        assert!(parse(&[("X Space", "v")]).is_err());
        assert!(parse(&[("X:Colon", "v")]).is_err());
        assert!(parse(&[("", "v")]).is_err());
        assert!(parse(&[(&"x".repeat(65), "v")]).is_err());
        assert!(parse(&[("X-A", "a\r\nX-B: b")]).is_err());
        assert!(parse(&[("X-A", "tab\there")]).is_err());
        assert!(parse(&[("X-A", "é")]).is_err());
        assert!(parse(&[("X-A", " padded")]).is_err());
        assert!(parse(&[("X-A", &"v".repeat(1025))]).is_err());
        assert!(parse(&[("X-A", &"v".repeat(1024))]).is_ok());
    }

    #[test]
    fn a_masked_value_keeps_the_stored_one_in_a_change_only() {
        let given: BTreeMap<String, String> =
            [("Authorization".to_owned(), MASKED.to_owned())].into();
        assert!(CustomHeaders::parse(given.clone()).is_err());
        let change = CustomHeaders::parse_change(given).expect("valid in a change");
        assert_eq!(change.kept().collect::<Vec<_>>(), ["Authorization"]);
        assert_eq!(
            mask_headers(serde_json::json!({"Authorization": "Bearer abc"})),
            serde_json::json!({"Authorization": MASKED})
        );
        assert_eq!(
            mask_headers(serde_json::Value::Null),
            serde_json::Value::Null
        );
    }

    #[test]
    fn at_most_twenty_distinct_names() {
        let names: Vec<String> = (0..21).map(|i| format!("X-{i}")).collect();
        let pairs: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "v")).collect();
        assert!(parse(&pairs[..20]).is_ok());
        assert!(parse(&pairs).is_err());
        assert!(parse(&[("X-A", "1"), ("x-a", "2")]).is_err());
    }
}
