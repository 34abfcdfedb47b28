//! Values parsed at the edge: once a handler holds an `EventType`, a
//! `WebhookUrl`, `CustomHeaders`, a `Secret`, an `EventSchema`, a
//! `TenantKey` or a `TraceContext`, it is valid, and nothing further in hookrelay checks it again.
//!
//! Each parser returns a plain message naming what was wrong; the API layer adds
//! the field name and turns it into a 422.

mod event_schema;
mod event_type;
mod headers;
mod ordering_key;
mod payload;
mod secret;
mod tenant_key;
pub mod tenant_token;
mod trace_context;
mod webhook_url;

pub use event_schema::{example_payload, EventSchema, Violation};
pub use event_type::{EventType, EventTypeFilter, RESERVED_PREFIX, TEST_EVENT_TYPE};
pub use headers::{mask_headers, CustomHeaders, MASKED};
pub use ordering_key::OrderingKey;
pub use payload::Payload;
pub use secret::Secret;
pub use tenant_key::{TenantKey, DEFAULT_TENANT};
pub use tenant_token::{TenantToken, TENANT_TOKEN_PREFIX};
pub use trace_context::{random_span_id, TraceContext};
pub use webhook_url::WebhookUrl;

/// Free text stored as given (descriptions): bounded, and without the NUL
/// character Postgres `text` cannot hold.
pub fn parse_description(s: &str) -> Result<String, String> {
    if s.chars().count() > 1024 {
        return Err("must be at most 1024 characters".into());
    }
    if s.contains('\0') {
        return Err("must not contain NUL characters".into());
    }
    Ok(s.to_owned())
}
