//! Credentials at rest: signing secrets and custom header values sealed with
//! the operator's key, so a database dump or a backup holds none of them.
//!
//! Sealing is AES-256-GCM (RustCrypto's `aes-gcm`), a fresh random nonce per
//! value, the webhook's id as associated data (a sealed value copied onto
//! another webhook does not open). A sealed value is text, so it fits the
//! columns plain values use:
//!
//! ```text
//! hookrelay-sealed:v1:<key id>:<base64 of nonce ‖ ciphertext ‖ tag>
//! ```
//!
//! The key id (the first 8 hex digits of the key's SHA-256) says which key
//! sealed a value, so a new key (`HOOKRELAY_ENCRYPTION_KEY`) can come in with
//! the old one still read (`HOOKRELAY_ENCRYPTION_KEY_PREVIOUS`) while every
//! process re-seals what the old key sealed (`spawn_resealer`). Values stored
//! before any key, or by a process without one, are plain and read as they
//! are; the resealer seals them too. It all happens at this layer's edge:
//! what goes in is sealed here, what comes out is opened here, and nothing
//! above `store` sees a sealed value.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine;
use rand::RngCore;
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{Client, Pool, StoreError};
use crate::sql;

const PREFIX: &str = "hookrelay-sealed:v1:";
const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{0} must be 32 bytes in standard base64 (e.g. `openssl rand -base64 32`)")]
    Malformed(&'static str),
    #[error("HOOKRELAY_ENCRYPTION_KEY_PREVIOUS is set without HOOKRELAY_ENCRYPTION_KEY: set the new key too")]
    PreviousAlone,
    #[error("the key file {}: {source}", path.display())]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

struct Key {
    id: String,
    cipher: Aes256Gcm,
}

impl Key {
    fn parse(text: &str, setting: &'static str) -> Result<Key, KeyError> {
        let bytes = STANDARD
            .decode(text.trim())
            .or_else(|_| STANDARD_NO_PAD.decode(text.trim()))
            .map_err(|_| KeyError::Malformed(setting))?;
        if bytes.len() != 32 {
            return Err(KeyError::Malformed(setting));
        }
        let digest = Sha256::digest(&bytes);
        let id = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
        let cipher = Aes256Gcm::new_from_slice(&bytes).map_err(|_| KeyError::Malformed(setting))?;
        Ok(Key { id, cipher })
    }
}

/// The keys a process seals with and opens with; cheap to clone. `Debug`
/// shows key ids only.
#[derive(Clone, Default)]
pub struct Keys {
    current: Option<Arc<Key>>,
    previous: Option<Arc<Key>>,
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keys")
            .field("current", &self.current.as_ref().map(|k| &k.id))
            .field("previous", &self.previous.as_ref().map(|k| &k.id))
            .finish()
    }
}

/// A stored value that cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(
        "a value is sealed with key {0}, which this process was not given: \
         set HOOKRELAY_ENCRYPTION_KEY (or HOOKRELAY_ENCRYPTION_KEY_PREVIOUS) to it"
    )]
    UnknownKey(String),
    #[error(
        "a sealed value does not open with key {0}: it was altered, or belongs to another webhook"
    )]
    Corrupt(String),
}

impl From<OpenError> for StoreError {
    fn from(e: OpenError) -> StoreError {
        StoreError::Inconsistent(e.to_string())
    }
}

impl Keys {
    /// `HOOKRELAY_ENCRYPTION_KEY` and `HOOKRELAY_ENCRYPTION_KEY_PREVIOUS`, as given.
    pub fn parse(current: Option<&str>, previous: Option<&str>) -> Result<Keys, KeyError> {
        if current.is_none() && previous.is_some() {
            return Err(KeyError::PreviousAlone);
        }
        Ok(Keys {
            current: current
                .map(|k| Key::parse(k, "HOOKRELAY_ENCRYPTION_KEY"))
                .transpose()?
                .map(Arc::new),
            previous: previous
                .map(|k| Key::parse(k, "HOOKRELAY_ENCRYPTION_KEY_PREVIOUS"))
                .transpose()?
                .map(Arc::new),
        })
    }

    /// A new key, as the settings take it: 32 random bytes in base64.
    pub fn generate() -> String {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        STANDARD.encode(bytes)
    }

    /// The id of the key new values are sealed with; `None`: stored in clear.
    pub fn sealing_with(&self) -> Option<&str> {
        self.current.as_ref().map(|k| k.id.as_str())
    }

    /// `plain` as it is to be stored for `webhook`.
    pub fn seal(&self, webhook: Uuid, plain: &str) -> String {
        let Some(key) = &self.current else {
            return plain.to_owned();
        };
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let aad = webhook.as_bytes();
        // Encryption fails only past GCM's length limit (64 GiB), far above
        // any value here; storing the value plain then would defeat the point.
        let sealed = match key.cipher.encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plain.as_bytes(),
                aad,
            },
        ) {
            Ok(sealed) => sealed,
            Err(_) => unreachable!("AES-GCM refuses only values over 64 GiB"),
        };
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        format!("{PREFIX}{}:{}", key.id, STANDARD_NO_PAD.encode(bytes))
    }

    /// A stored value in clear: opened if sealed, as it is if plain.
    pub fn open(&self, webhook: Uuid, stored: &str) -> Result<String, OpenError> {
        let Some(rest) = stored.strip_prefix(PREFIX) else {
            return Ok(stored.to_owned());
        };
        let (id, body) = rest.split_once(':').unwrap_or((rest, ""));
        let key = [&self.current, &self.previous]
            .into_iter()
            .flatten()
            .find(|k| k.id == id)
            .ok_or_else(|| OpenError::UnknownKey(id.to_owned()))?;
        let corrupt = || OpenError::Corrupt(id.to_owned());
        let bytes = STANDARD_NO_PAD.decode(body).map_err(|_| corrupt())?;
        if bytes.len() < NONCE_LEN {
            return Err(corrupt());
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let plain = key
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: webhook.as_bytes(),
                },
            )
            .map_err(|_| corrupt())?;
        String::from_utf8(plain).map_err(|_| corrupt())
    }

    /// A webhook's headers object with every value sealed, except `keep`
    /// (the masked value a change gives for "keep the stored one").
    pub fn seal_headers(&self, webhook: Uuid, headers: &Value, keep: &str) -> Value {
        let sealed = self.map_headers(headers, |v| {
            Ok::<_, std::convert::Infallible>(if v == keep {
                v.to_owned()
            } else {
                self.seal(webhook, v)
            })
        });
        match sealed {
            Ok(v) => v,
            Err(never) => match never {},
        }
    }

    /// A stored headers object with every value opened.
    pub fn open_headers(&self, webhook: Uuid, headers: &Value) -> Result<Value, OpenError> {
        self.map_headers(headers, |v| self.open(webhook, v))
    }

    fn map_headers<E>(
        &self,
        headers: &Value,
        mut f: impl FnMut(&str) -> Result<String, E>,
    ) -> Result<Value, E> {
        let Value::Object(map) = headers else {
            return Ok(headers.clone());
        };
        let mut out = serde_json::Map::with_capacity(map.len());
        for (name, value) in map {
            let value = match value.as_str() {
                Some(v) => Value::String(f(v)?),
                None => value.clone(),
            };
            out.insert(name.clone(), value);
        }
        Ok(Value::Object(out))
    }

    /// Whether a stored value is sealed with the current key (always, without one).
    fn current(&self, stored: &str) -> bool {
        match &self.current {
            None => true,
            Some(key) => stored
                .strip_prefix(PREFIX)
                .and_then(|rest| rest.strip_prefix(key.id.as_str()))
                .is_some_and(|rest| rest.starts_with(':')),
        }
    }
}

/// The managed cluster's key: `<data dir>/encryption.key`, made on first
/// start (mode 0600), so `cargo run` seals from the start with nothing to set.
pub fn key_file(data_dir: &Path) -> Result<String, KeyError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = data_dir.join("encryption.key");
    let err = |source| KeyError::File {
        path: path.clone(),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => return Ok(text.trim().to_owned()),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(err(e)),
        Err(_) => {}
    }
    std::fs::create_dir_all(data_dir).map_err(err)?;
    let key = Keys::generate();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(err)?;
    writeln!(file, "{key}").map_err(err)?;
    file.sync_all().map_err(err)?;
    Ok(key)
}

/// How often a process looks for values not sealed with its key: values a
/// process with an older key (or none) stored since, in a rolling change of
/// keys, are re-sealed within this.
const RESEAL_EVERY: Duration = Duration::from_secs(60);
/// Webhooks read per statement while re-sealing.
const RESEAL_BATCH: i64 = 200;

/// Re-seals, now and every minute, every value not sealed with the current
/// key: plain ones, and those of the previous key. Nothing to do without a key.
pub fn spawn_resealer(pool: Pool, keys: Keys) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if keys.sealing_with().is_none() {
            return;
        }
        loop {
            match reseal_all(&pool, &keys).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(webhooks = n, "re-sealed with the current key"),
                Err(e) => tracing::warn!(error = %e, "re-sealing failed; trying again later"),
            }
            tokio::time::sleep(RESEAL_EVERY).await;
        }
    })
}

/// One pass over every webhook, in id order, so a value no key opens is
/// reported and passed over rather than read again and again.
pub async fn reseal_all(pool: &Pool, keys: &Keys) -> Result<u64, StoreError> {
    let Some(id) = keys.sealing_with() else {
        return Ok(0);
    };
    let prefix = format!("{PREFIX}{id}:");
    let client = pool.get().await?;
    let mut after = Uuid::nil();
    let mut resealed = 0;
    loop {
        let stmt = client.prepare_cached(sql::WEBHOOKS_TO_RESEAL).await?;
        let rows = client
            .query(&stmt, &[&prefix, &after, &RESEAL_BATCH])
            .await?;
        for row in &rows {
            after = row.get("id");
            match reseal_one(&client, keys, row).await {
                Ok(true) => resealed += 1,
                Ok(false) => {}
                Err(e) => tracing::warn!(webhook = %after, error = %e, "cannot re-seal"),
            }
        }
        if rows.len() < RESEAL_BATCH as usize {
            return Ok(resealed);
        }
    }
}

/// Compare-and-set: a change made meanwhile (a rotation, new headers) wins,
/// and the next pass sees it.
async fn reseal_one(
    client: &Client,
    keys: &Keys,
    row: &tokio_postgres::Row,
) -> Result<bool, StoreError> {
    let id: Uuid = row.get("id");
    let secret: String = row.get("secret");
    let previous: Option<String> = row.get("previous_secret");
    let headers: Value = row.get("headers");
    let again = |v: &str| -> Result<String, OpenError> {
        Ok(if keys.current(v) {
            v.to_owned()
        } else {
            keys.seal(id, &keys.open(id, v)?)
        })
    };
    let new_secret = again(&secret)?;
    let new_previous = previous.as_deref().map(again).transpose()?;
    let new_headers = keys.map_headers(&headers, again)?;
    let stmt = client.prepare_cached(sql::WEBHOOK_RESEAL).await?;
    let n = client
        .execute(
            &stmt,
            &[
                &id,
                &new_secret,
                &new_previous,
                &new_headers,
                &secret,
                &previous,
                &headers,
            ],
        )
        .await?;
    Ok(n == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(current: &str, previous: Option<&str>) -> Keys {
        Keys::parse(Some(current), previous).unwrap()
    }

    #[test]
    fn seals_with_a_fresh_nonce_and_opens_back() {
        let k = keys(&Keys::generate(), None);
        let id = Uuid::now_v7();
        let a = k.seal(id, "whsec_abc");
        let b = k.seal(id, "whsec_abc");
        assert_ne!(a, b, "each value gets its own nonce");
        assert!(a.starts_with(PREFIX) && !a.contains("whsec_"));
        assert_eq!(k.open(id, &a).unwrap(), "whsec_abc");
        assert_eq!(k.open(id, "plain").unwrap(), "plain");
    }

    #[test]
    fn a_value_opens_only_for_its_webhook_and_unaltered() {
        let k = keys(&Keys::generate(), None);
        let id = Uuid::now_v7();
        let sealed = k.seal(id, "Bearer t0ken");
        assert!(matches!(
            k.open(Uuid::now_v7(), &sealed),
            Err(OpenError::Corrupt(_))
        ));
        let mut altered = sealed.clone();
        let last = altered.pop().unwrap();
        altered.push(if last == 'A' { 'B' } else { 'A' });
        assert!(k.open(id, &altered).is_err());
    }

    #[test]
    fn the_previous_key_still_opens_and_an_unknown_one_is_named() {
        let (old, new) = (Keys::generate(), Keys::generate());
        let id = Uuid::now_v7();
        let sealed_old = keys(&old, None).seal(id, "v");
        let rotated = keys(&new, Some(&old));
        assert_eq!(rotated.open(id, &sealed_old).unwrap(), "v");
        assert!(!rotated.current(&sealed_old));
        assert!(rotated.current(&rotated.seal(id, "v")));
        let err = keys(&new, None).open(id, &sealed_old).unwrap_err();
        assert!(matches!(err, OpenError::UnknownKey(_)), "{err}");
    }

    #[test]
    fn without_a_key_values_stay_plain() {
        let k = Keys::default();
        assert_eq!(k.seal(Uuid::nil(), "whsec_x"), "whsec_x");
        assert!(k.sealing_with().is_none());
    }

    #[test]
    fn refuses_keys_that_are_not_32_bytes_of_base64() {
        assert!(Keys::parse(Some("short"), None).is_err());
        assert!(Keys::parse(Some(&STANDARD.encode([1u8; 16])), None).is_err());
        assert!(Keys::parse(None, Some(&Keys::generate())).is_err());
        assert!(Keys::parse(Some(&STANDARD_NO_PAD.encode([1u8; 32])), None).is_ok());
    }

    #[test]
    fn the_key_file_is_made_once_and_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("hookrelay-key-{}", Uuid::new_v4().simple()));
        let first = key_file(&dir).unwrap();
        assert_eq!(key_file(&dir).unwrap(), first);
        assert!(Keys::parse(Some(&first), None).is_ok());
        let mode = std::fs::metadata(dir.join("encryption.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
