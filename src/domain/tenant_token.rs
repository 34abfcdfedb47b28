//! Tenant tokens: `hrt_` + base64url of 32 random bytes, shown once, stored as
//! their SHA-256.
//!
//! A token of 256 random bits cannot be guessed, so a plain hash (no salt, no
//! slow KDF) keeps a stolen table useless while the lookup stays one indexed
//! equality. The prefix tells hookrelay which tokens to look up at all, and
//! tells a person (or a secret scanner) what one is.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

pub const TENANT_TOKEN_PREFIX: &str = "hrt_";

/// A new token: its text, for the one answer that shows it, and its hash, to store.
pub struct TenantToken {
    text: String,
}

impl TenantToken {
    /// 32 bytes from the operating system's CSPRNG.
    pub fn generate() -> TenantToken {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        TenantToken {
            text: format!("{TENANT_TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)),
        }
    }

    pub fn expose(&self) -> &str {
        &self.text
    }

    pub fn hash(&self) -> [u8; 32] {
        hash(&self.text)
    }
}

/// Never prints the token.
impl fmt::Debug for TenantToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TenantToken(..)")
    }
}

/// What a presented token is stored under: SHA-256 of its whole text.
pub fn hash(presented: &str) -> [u8; 32] {
    Sha256::digest(presented.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_prefixed_random_and_stored_by_hash() {
        let a = TenantToken::generate();
        let b = TenantToken::generate();
        assert!(a.expose().starts_with("hrt_"));
        assert_eq!(a.expose().len(), 4 + 43);
        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.hash(), hash(a.expose()));
        assert_ne!(a.hash(), b.hash());
        assert!(!format!("{a:?}").contains(a.expose()));
    }
}
