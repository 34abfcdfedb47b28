//! Signing secrets: `whsec_` + standard base64 of 24–64 bytes, as Standard Webhooks has them.
//!
//! `Debug` never prints the secret, so a secret cannot leak through a log line
//! or an error message by accident.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::RngCore;

const PREFIX: &str = "whsec_";

#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    text: String,
    key: Vec<u8>,
}

impl Secret {
    /// A new secret of 32 bytes from the operating system's CSPRNG.
    pub fn generate() -> Secret {
        let mut key = vec![0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        Secret {
            text: format!("{PREFIX}{}", STANDARD.encode(&key)),
            key,
        }
    }

    pub fn parse(s: &str) -> Result<Secret, String> {
        let encoded = s
            .strip_prefix(PREFIX)
            .ok_or_else(|| format!("must start with {PREFIX:?}"))?;
        let key = STANDARD
            .decode(encoded)
            .map_err(|_| format!("must be {PREFIX:?} followed by standard base64"))?;
        if !(24..=64).contains(&key.len()) {
            return Err(format!("must decode to 24 to 64 bytes, got {}", key.len()));
        }
        Ok(Secret {
            text: s.to_owned(),
            key,
        })
    }

    /// The secret as the user sees it (`whsec_...`).
    pub fn expose(&self) -> &str {
        &self.text
    }

    /// The decoded bytes: the key of the Standard Webhooks signature.
    pub fn key(&self) -> &[u8] {
        &self.key
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(redacted)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_parse_back() {
        let s = Secret::generate();
        assert_eq!(Secret::parse(s.expose()).unwrap(), s);
        assert_eq!(s.key().len(), 32);
        assert!(!format!("{s:?}").contains(s.expose()));
    }

    #[test]
    fn rejects_wrong_prefix_bad_base64_and_wrong_length() {
        assert!(Secret::parse("abc").is_err());
        assert!(Secret::parse("whsec_!!!").is_err());
        assert!(Secret::parse(&format!("whsec_{}", STANDARD.encode([0u8; 8]))).is_err());
        assert!(Secret::parse(&format!("whsec_{}", STANDARD.encode([0u8; 24]))).is_ok());
    }
}
