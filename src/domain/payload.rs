//! An event's payload: any JSON value, kept as the client's own text.
//!
//! The text is stored (events.payload is `json`, which keeps it) and sent as
//! given, byte for byte, so the signature covers what the client wrote and no
//! number loses precision on the way. It is checked here, in one pass over
//! the text, for what the service would trip over later: nesting depth
//! (Postgres answers a deep document with a stack-depth error), and the two
//! escapes that are valid JSON text but name no character, `\u0000` (NUL)
//! and a UTF-16 surrogate without its other half (`\ud800`). Postgres' `json`
//! stores those, but its `jsonb` (`payload::jsonb` in psql), serde's strings
//! (the catalog's schema check, the console) and many receivers' parsers
//! refuse them; they were refused when payloads were jsonb, and still are.

use serde_json::value::RawValue;

/// The deepest nesting of arrays and objects accepted.
pub const MAX_DEPTH: usize = 128;

#[derive(Debug, Clone, Copy)]
pub struct Payload<'a>(&'a RawValue);

impl<'a> Payload<'a> {
    pub fn parse(raw: &'a RawValue) -> Result<Payload<'a>, String> {
        let scan = scan(raw.get());
        if scan.depth > MAX_DEPTH {
            return Err(format!(
                "is nested {} levels deep; at most {MAX_DEPTH} are accepted",
                scan.depth
            ));
        }
        if scan.nul {
            return Err(
                "holds \\u0000, the NUL character, which PostgreSQL's jsonb cannot hold".into(),
            );
        }
        if scan.lone_surrogate {
            return Err(
                "holds a lone UTF-16 surrogate escape (like \\ud800 without a \\udc00-\\udfff after it), which names no character".into(),
            );
        }
        Ok(Payload(raw))
    }

    pub fn raw(&self) -> &'a RawValue {
        self.0
    }
}

struct Scan {
    /// Deepest nesting of `[` and `{`.
    depth: usize,
    /// Whether a string or key holds the escape `\u0000`.
    nul: bool,
    /// Whether a string or key holds half of a surrogate pair alone.
    lone_surrogate: bool,
}

/// The code unit of the four hex digits of a `\u` escape whose `u` is at `at`.
fn code_unit(bytes: &[u8], at: usize) -> Option<u16> {
    let hex = std::str::from_utf8(bytes.get(at + 1..at + 5)?).ok()?;
    u16::from_str_radix(hex, 16).ok()
}

/// One pass over valid JSON text, tracking strings and their escapes, so that
/// brackets inside strings do not count and `\\u0000` (an escaped backslash,
/// then `u0000`) is not a NUL.
fn scan(json: &str) -> Scan {
    let bytes = json.as_bytes();
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    let (mut nul, mut lone_surrogate) = (false, false);
    // Where the `u` of the low half that pairs with the last high half is.
    let mut paired_low_at = None;
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            match b {
                _ if escaped => {
                    escaped = false;
                    if b != b'u' {
                        continue;
                    }
                    match code_unit(bytes, i) {
                        Some(0) => nul = true,
                        Some(0xD800..=0xDBFF) => {
                            // A high half is whole only with a low half escaped right after it.
                            let low = bytes.get(i + 5..i + 7) == Some(b"\\u".as_slice())
                                && matches!(code_unit(bytes, i + 6), Some(0xDC00..=0xDFFF));
                            lone_surrogate |= !low;
                            paired_low_at = low.then_some(i + 6);
                        }
                        Some(0xDC00..=0xDFFF) => lone_surrogate |= paired_low_at != Some(i),
                        _ => {}
                    }
                }
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Scan {
        depth: deepest,
        nul,
        lone_surrogate,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_ignores_brackets_inside_strings() {
        assert_eq!(scan(r#"{"a": [1, {"b": "[[[{"}]}"#).depth, 3);
        assert_eq!(scan(r#""\"[""#).depth, 0);
        assert_eq!(scan("1").depth, 0);
    }

    #[test]
    fn finds_the_nul_escape_in_values_and_keys_only() {
        assert!(scan(r#"{"x": "a\u0000b"}"#).nul);
        assert!(scan(r#"{"\u0000": 1}"#).nul);
        assert!(scan(r#"["\\\u0000"]"#).nul, "a backslash, then a NUL");
        assert!(
            !scan(r#"{"x": "a\\u0000b"}"#).nul,
            "a backslash, then u0000"
        );
        assert!(!scan(r#"{"x": "\u0001"}"#).nul);
        assert!(!scan(r#"{"u0000": 0}"#).nul);
        let nul: Box<RawValue> = RawValue::from_string(r#"{"x": "\u0000"}"#.into()).unwrap();
        let err = Payload::parse(&nul).unwrap_err();
        assert!(err.contains("NUL") && err.contains("PostgreSQL"), "{err}");
    }

    #[test]
    fn finds_surrogate_halves_without_their_other_half() {
        assert!(!scan(r#""\ud83d\ude00""#).lone_surrogate, "a whole pair");
        assert!(!scan(r#"{"\uD83D\uDE00": "\u00e9"}"#).lone_surrogate);
        assert!(scan(r#""\ud800""#).lone_surrogate, "a high half at the end");
        assert!(scan(r#""\ud800x""#).lone_surrogate);
        assert!(
            scan(r#""\ud800\u0041""#).lone_surrogate,
            "a high half, then no low one"
        );
        assert!(
            scan(r#""\ud800\ud800\udc00""#).lone_surrogate,
            "two highs, one low"
        );
        assert!(scan(r#""\udc00""#).lone_surrogate, "a low half alone");
        assert!(
            scan(r#"["\ud83d\ude00\ude00"]"#).lone_surrogate,
            "a pair, then a low half"
        );
        assert!(
            !scan(r#""\\ud800""#).lone_surrogate,
            "a backslash, then ud800"
        );
        let lone: Box<RawValue> = RawValue::from_string(r#"{"x": "\udfff"}"#.into()).unwrap();
        assert!(Payload::parse(&lone).unwrap_err().contains("surrogate"));
    }

    #[test]
    fn refuses_documents_deeper_than_the_limit() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        let ok: Box<RawValue> = RawValue::from_string(ok).unwrap();
        let deep: Box<RawValue> = RawValue::from_string(deep).unwrap();
        assert!(Payload::parse(&ok).is_ok());
        assert!(Payload::parse(&deep).is_err());
    }
}
