//! Event types (`order.created`) and the lists of them a webhook subscribes to.

use std::fmt;

/// Types under this prefix are hookrelay's own (its operational events, the
/// test event): webhooks may subscribe to them, clients may not emit them.
pub const RESERVED_PREFIX: &str = "hookrelay.";

/// The type of a test event that names none.
pub const TEST_EVENT_TYPE: &str = "hookrelay.test";

/// 1–128 characters of `A-Z a-z 0-9 . _ : -`; never the wildcard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventType(String);

impl EventType {
    pub fn parse(s: &str) -> Result<EventType, String> {
        let len = s.chars().count();
        if len == 0 || len > 128 {
            return Err(format!("must be 1 to 128 characters, got {len}"));
        }
        if let Some(bad) = s
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-')))
        {
            return Err(format!(
                "{bad:?} is not allowed; use letters, digits and . _ : -"
            ));
        }
        Ok(EventType(s.to_owned()))
    }

    /// A type a client may emit (`POST /events`): any event type outside
    /// `hookrelay.`, so a receiver can trust that those come from hookrelay.
    pub fn parse_emitted(s: &str) -> Result<EventType, String> {
        let t = EventType::parse(s)?;
        if t.0.starts_with(RESERVED_PREFIX) {
            return Err(format!(
                "{s:?} is reserved: types under {RESERVED_PREFIX:?} are hookrelay's own"
            ));
        }
        Ok(t)
    }

    /// A type a test event may carry (`POST /webhooks/{id}/test`): one a client
    /// may emit, or `hookrelay.test`, the one reserved type a client may send.
    pub fn parse_test(s: &str) -> Result<EventType, String> {
        if s == TEST_EVENT_TYPE {
            return Ok(EventType::test());
        }
        EventType::parse_emitted(s)
    }

    /// `hookrelay.test`: the type of a test event that names none.
    pub fn test() -> EventType {
        EventType(TEST_EVENT_TYPE.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a webhook subscribes to: 1 to 100 event types, or the single wildcard `"*"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventTypeFilter(Vec<String>);

impl EventTypeFilter {
    pub fn parse(items: &[String]) -> Result<EventTypeFilter, String> {
        if items.is_empty() || items.len() > 100 {
            return Err(format!(
                "must hold 1 to 100 event types, got {}",
                items.len()
            ));
        }
        if items.iter().any(|t| t == "*") {
            if items.len() > 1 {
                return Err("the wildcard \"*\" must stand alone".into());
            }
            return Ok(EventTypeFilter(vec!["*".into()]));
        }
        let mut out: Vec<String> = Vec::with_capacity(items.len());
        for (i, t) in items.iter().enumerate() {
            EventType::parse(t).map_err(|e| format!("[{i}] {e}"))?;
            if !out.contains(t) {
                out.push(t.clone());
            }
        }
        Ok(EventTypeFilter(out))
    }

    pub fn into_inner(self) -> Vec<String> {
        self.0
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_allow_the_documented_characters_only() {
        assert!(EventType::parse("order.created").is_ok());
        assert!(EventType::parse("a:b_c-D.9").is_ok());
        assert!(EventType::parse("").is_err());
        assert!(EventType::parse("order created").is_err());
        assert!(EventType::parse("*").is_err());
        assert!(EventType::parse(&"a".repeat(129)).is_err());
    }

    #[test]
    fn clients_cannot_emit_hookrelays_own_types() {
        assert!(EventType::parse_emitted("hookrelay.webhook.disabled").is_err());
        assert!(EventType::parse_emitted("hookrelay.test").is_err());
        assert!(EventType::parse_emitted("hookrelayx.thing").is_ok());
        assert!(EventType::parse("hookrelay.webhook.disabled").is_ok());
        assert!(EventType::parse_test("hookrelay.test").is_ok());
        assert!(EventType::parse_test("order.created").is_ok());
        assert!(EventType::parse_test("hookrelay.delivery.dead_lettered").is_err());
        assert!(EventType::parse_test("bad type").is_err());
    }

    #[test]
    fn the_wildcard_stands_alone() {
        assert!(EventTypeFilter::parse(&["*".into()]).is_ok());
        assert!(EventTypeFilter::parse(&["*".into(), "a".into()]).is_err());
        assert!(EventTypeFilter::parse(&[]).is_err());
    }
}
