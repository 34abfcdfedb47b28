//! Ordering keys: events of one tenant that share one reach each webhook one
//! at a time, in the order they were accepted (`queue::claim`, and
//! migrations/0013_lanes.sql for how the sequence is kept).
//!
//! Any text the client uses to name what must stay in order (an order id, a
//! customer id): 1 to 256 characters, without NUL, which Postgres `text`
//! cannot hold, and without control characters, which would only make the
//! key hard to read back.

/// 1–256 printable characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OrderingKey(String);

impl OrderingKey {
    pub fn parse(s: &str) -> Result<OrderingKey, String> {
        let len = s.chars().count();
        if len == 0 || len > 256 {
            return Err(format!("must be 1 to 256 characters, got {len}"));
        }
        if s.chars().any(char::is_control) {
            return Err("must not contain control characters".into());
        }
        Ok(OrderingKey(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_1_to_256_printable_characters() {
        for good in ["order-42", "a", "ü ß", &"k".repeat(256)] {
            assert!(OrderingKey::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "a\0b", "a\nb", &"k".repeat(257)] {
            assert!(OrderingKey::parse(bad).is_err(), "{bad:?}");
        }
    }
}
