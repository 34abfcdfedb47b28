//! An event's payload: any JSON value, kept as the client's own text.
//!
//! The text is stored and sent as given, so no number loses precision on the
//! way. It is checked here for what Postgres' jsonb input would refuse less
//! cleanly, in one pass over the text: nesting depth (Postgres answers a deep
//! document with a stack-depth error) and the `\u0000` escape (jsonb cannot hold
//! the NUL character; found only at insert, one such event would fail the
//! whole group-commit batch and send it the slow way, row by row).

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
                "holds \\u0000, the NUL character, which PostgreSQL cannot store in JSON".into(),
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
}

/// One pass over valid JSON text, tracking strings and their escapes, so that
/// brackets inside strings do not count and `\\u0000` (an escaped backslash,
/// then `u0000`) is not a NUL.
fn scan(json: &str) -> Scan {
    let bytes = json.as_bytes();
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    let mut nul = false;
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            match b {
                _ if escaped => {
                    escaped = false;
                    nul |= b == b'u' && bytes.get(i + 1..i + 5) == Some(b"0000".as_slice());
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
    fn refuses_documents_deeper_than_the_limit() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        let ok: Box<RawValue> = RawValue::from_string(ok).unwrap();
        let deep: Box<RawValue> = RawValue::from_string(deep).unwrap();
        assert!(Payload::parse(&ok).is_ok());
        assert!(Payload::parse(&deep).is_err());
    }
}
