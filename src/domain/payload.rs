//! An event's payload: any JSON value, kept as the client's own text.
//!
//! The text is stored and sent as given, so no number loses precision on the
//! way. It is checked for nesting depth here because neither the raw-value
//! parser nor Postgres' jsonb input should be the one to find out: Postgres
//! answers a deep document with a stack-depth error, not a clean refusal.

use serde_json::value::RawValue;

/// The deepest nesting of arrays and objects accepted.
pub const MAX_DEPTH: usize = 128;

#[derive(Debug, Clone, Copy)]
pub struct Payload<'a>(&'a RawValue);

impl<'a> Payload<'a> {
    pub fn parse(raw: &'a RawValue) -> Result<Payload<'a>, String> {
        let depth = nesting_depth(raw.get());
        if depth > MAX_DEPTH {
            return Err(format!(
                "is nested {depth} levels deep; at most {MAX_DEPTH} are accepted"
            ));
        }
        Ok(Payload(raw))
    }

    pub fn raw(&self) -> &'a RawValue {
        self.0
    }
}

/// Deepest nesting of `[` and `{` in valid JSON text, ignoring brackets in strings.
fn nesting_depth(json: &str) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for b in json.bytes() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
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
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_ignores_brackets_inside_strings() {
        assert_eq!(nesting_depth(r#"{"a": [1, {"b": "[[[{"}]}"#), 3);
        assert_eq!(nesting_depth(r#""\"[""#), 0);
        assert_eq!(nesting_depth("1"), 0);
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
