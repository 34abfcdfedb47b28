//! Tenant-token look-ups, remembered for a few seconds.
//!
//! Every `Bearer hrt_…` names a row of `tenant_tokens`; without this each
//! request, and each wrong token in a flood of them, would read the database.
//! An answer (the tenant, or none) is kept for `TTL`, at most `MAX_ENTRIES`
//! of them, keyed by the token's SHA-256 (the token itself is kept nowhere).
//!
//! A revocation or a tenant's deletion made through this process forgets that
//! tenant's entries before it answers, so it applies to the next request here
//! at once; other processes sharing the database drop what they remember
//! within `TTL`. An unknown token stays unknown (tokens are random, and a
//! revoked or expired one never comes back), so remembering misses costs
//! nothing in correctness.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long an answer is trusted.
pub const TTL: Duration = Duration::from_secs(2);
/// Most answers kept; a full cache starts over.
const MAX_ENTRIES: usize = 10_000;

type Hash = [u8; 32];

#[derive(Default)]
pub struct TokenCache {
    entries: Mutex<HashMap<Hash, (Instant, Option<String>)>>,
}

impl TokenCache {
    /// The remembered answer for the token of `hash`: `Some(None)` for a token
    /// known to be no good, `None` when nothing recent is known.
    pub fn get(&self, hash: &Hash) -> Option<Option<String>> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(hash)
            .filter(|(at, _)| at.elapsed() < TTL)
            .map(|(_, tenant)| tenant.clone())
    }

    pub fn put(&self, hash: Hash, tenant: Option<String>) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, (at, _)| at.elapsed() < TTL);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(hash, (Instant::now(), tenant));
    }

    /// Forgets every answer naming `tenant`: its tokens were revoked, or it was deleted.
    pub fn forget_tenant(&self, tenant: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.retain(|_, (_, t)| t.as_deref() != Some(tenant));
    }
}
