//! Tenant keys: the operator's own names for its customers (`acme`, `cus_42`).
//!
//! The key is the tenant's identity everywhere (no surrogate id), so the
//! operator keeps no mapping table, and every row a tenant owns carries it.

use std::fmt;

/// The tenant everything belongs to when nothing says otherwise.
pub const DEFAULT_TENANT: &str = "default";

/// 1–64 characters of `A-Z a-z 0-9 . _ : -`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TenantKey(String);

impl TenantKey {
    pub fn parse(s: &str) -> Result<TenantKey, String> {
        let len = s.chars().count();
        if len == 0 || len > 64 {
            return Err(format!("must be 1 to 64 characters, got {len}"));
        }
        if let Some(bad) = s
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-')))
        {
            return Err(format!(
                "{bad:?} is not allowed; use letters, digits and . _ : -"
            ));
        }
        Ok(TenantKey(s.to_owned()))
    }

    pub fn default_tenant() -> TenantKey {
        TenantKey(DEFAULT_TENANT.to_owned())
    }

    pub fn is_default(&self) -> bool {
        self.0 == DEFAULT_TENANT
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_1_to_64_safe_characters() {
        for good in ["default", "a", "cus_42", "acme.eu:prod-1", &"k".repeat(64)] {
            assert!(TenantKey::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "a b", "a/b", "ü", "a*", &"k".repeat(65)] {
            assert!(TenantKey::parse(bad).is_err(), "{bad}");
        }
    }
}
