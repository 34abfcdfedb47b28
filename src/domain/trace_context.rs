//! A W3C Trace Context (`traceparent`, `tracestate`) as an event keeps it and
//! passes it on to receivers.
//!
//! Parsed leniently, as the Trace Context specification asks of anyone who
//! receives the headers: a malformed `traceparent` is not an error, it is
//! as if none had been sent (the event is accepted, and keeps no context); a
//! `tracestate` is kept only beside a valid `traceparent`, and dropped when it
//! is not something we can pass on as given. A parsed context is always in
//! version 00 form, the only form hookrelay sends.

use std::fmt::Write;

/// The longest `tracestate` kept: the specification asks that at least 512
/// characters be passed on; past that, the whole header is dropped rather
/// than cut, since cutting may break a vendor's entry.
const MAX_STATE: usize = 512;
/// Most list members a `tracestate` may have (the specification's limit).
const MAX_STATE_MEMBERS: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    /// `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`, lowercase.
    parent: String,
    state: Option<String>,
}

impl TraceContext {
    /// The context of a request's headers, or `None` when it carries no valid one.
    pub fn parse(traceparent: Option<&str>, tracestate: Option<&str>) -> Option<TraceContext> {
        let parent = parse_parent(traceparent?)?;
        let state = tracestate
            .map(str::trim)
            .filter(|s| valid_state(s))
            .map(str::to_owned);
        Some(TraceContext { parent, state })
    }

    /// A context made by hookrelay itself (its ingest span's, when tracing is on).
    pub fn from_ids(
        trace_id: &str,
        span_id: &str,
        flags: u8,
        state: Option<String>,
    ) -> Option<Self> {
        let parent = parse_parent(&format!("00-{trace_id}-{span_id}-{flags:02x}"))?;
        Some(TraceContext { parent, state })
    }

    pub fn traceparent(&self) -> &str {
        &self.parent
    }

    pub fn tracestate(&self) -> Option<&str> {
        self.state.as_deref()
    }

    pub fn trace_id(&self) -> &str {
        &self.parent[3..35]
    }

    pub fn parent_id(&self) -> &str {
        &self.parent[36..52]
    }

    /// The trace flags (bit 0: sampled), as the caller set them.
    pub fn flags(&self) -> u8 {
        u8::from_str_radix(&self.parent[53..55], 16).unwrap_or(0)
    }

    /// The `traceparent` of a call made within this context by span
    /// `span_id` (16 hex digits): the same trace and flags, a new parent.
    pub fn child(&self, span_id: &str) -> String {
        let mut header = String::with_capacity(55);
        header.push_str(&self.parent[..36]);
        header.push_str(span_id);
        header.push_str(&self.parent[52..]);
        header
    }
}

/// A new span id: 8 random bytes, not all zero, in hex.
pub fn random_span_id() -> String {
    let mut id = 0u64;
    while id == 0 {
        id = rand::random();
    }
    let mut hex = String::with_capacity(16);
    let _ = write!(hex, "{id:016x}");
    hex
}

fn is_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Version 00 is exactly 55 characters; a later version may append fields
/// after a dash, which we drop (we send version 00, as the specification
/// says to); "ff" is invalid, and so are all-zero ids.
fn parse_parent(header: &str) -> Option<String> {
    let header = header.trim();
    let head = header.get(..55)?;
    let version = &head[..2];
    if !is_hex(version) || version == "ff" {
        return None;
    }
    if version == "00" && header.len() != 55 {
        return None;
    }
    if header.len() > 55 && !header[55..].starts_with('-') {
        return None;
    }
    let bytes = head.as_bytes();
    if bytes[2] != b'-' || bytes[35] != b'-' || bytes[52] != b'-' {
        return None;
    }
    let (trace_id, parent_id, flags) = (&head[3..35], &head[36..52], &head[53..55]);
    if !is_hex(trace_id) || !is_hex(parent_id) || !is_hex(flags) {
        return None;
    }
    if trace_id.bytes().all(|b| b == b'0') || parent_id.bytes().all(|b| b == b'0') {
        return None;
    }
    Some(format!("00-{trace_id}-{parent_id}-{flags}"))
}

/// Printable ASCII, within the limits on length and members: what we can
/// store and send back as given.
fn valid_state(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_STATE
        && s.bytes().all(|b| (0x20..0x7f).contains(&b))
        && s.split(',').filter(|m| !m.trim().is_empty()).count() <= MAX_STATE_MEMBERS
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_valid_traceparent_is_kept_with_its_state() {
        let tc = TraceContext::parse(Some(GOOD), Some("congo=t61rcWkgMzE")).expect("valid");
        assert_eq!(tc.traceparent(), GOOD);
        assert_eq!(tc.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(tc.parent_id(), "00f067aa0ba902b7");
        assert_eq!(tc.flags(), 1);
        assert_eq!(tc.tracestate(), Some("congo=t61rcWkgMzE"));
    }

    #[test]
    fn a_child_keeps_the_trace_and_flags_with_a_new_parent() {
        let tc = TraceContext::parse(Some(GOOD), None).expect("valid");
        let span = random_span_id();
        assert_eq!(span.len(), 16);
        assert_eq!(
            tc.child(&span),
            format!("00-4bf92f3577b34da6a3ce929d0e0e4736-{span}-01")
        );
    }

    #[test]
    fn malformed_traceparents_are_none() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x",
            "zz-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert_eq!(TraceContext::parse(Some(bad), Some("a=b")), None, "{bad}");
        }
    }

    #[test]
    fn a_later_version_is_read_as_00() {
        let later = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-comes-next";
        let tc = TraceContext::parse(Some(later), None).expect("valid");
        assert_eq!(tc.traceparent(), GOOD);
    }

    #[test]
    fn an_unusable_tracestate_is_dropped_and_the_parent_kept() {
        let long = "a=".to_owned() + &"b".repeat(MAX_STATE);
        let many = (0..33)
            .map(|i| format!("k{i}=v"))
            .collect::<Vec<_>>()
            .join(",");
        for bad in ["", "a=\u{e9}", "a=\tb", long.as_str(), many.as_str()] {
            let tc = TraceContext::parse(Some(GOOD), Some(bad)).expect("valid parent");
            assert_eq!(tc.tracestate(), None, "{bad:?}");
        }
    }
}
