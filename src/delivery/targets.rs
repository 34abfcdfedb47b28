//! Where an attempt goes and how it is signed, as of the moment it starts.
//!
//! A claim may wait a while for a worker (claims run ahead of the sends), and a
//! webhook may change meanwhile: a new URL, a rotated secret, a disable, a
//! delete. Every attempt must follow the webhook as it is when the attempt
//! starts, so a claim carries only the webhook's id and the `version` it saw,
//! and the worker asks this cache when the send is about to start.
//!
//! The cache is kept true by being told of every change, not by asking the
//! database before each send (a query per attempt would cost the drain rate):
//!
//! - A change made through this process's API is announced here before the
//!   request returns (`announce`), so it binds every attempt that starts later.
//! - A change made anywhere else (another process sharing the database, psql)
//!   bumps `webhooks.version` by trigger, which NOTIFYs the new version; the
//!   workers' LISTEN connection announces it here.
//! - While that connection is down, announcements may be missed: the cache
//!   answers `Unknown` to everything, so each attempt reads the database, and
//!   when the connection is back the cache starts empty (`listening`).
//!
//! A load that started before a change was announced cannot put the older
//! version back: loads carry the generation they started in and are compared
//! by version with what was announced. An announcement is kept only while a
//! load of that webhook is under way, the only time it can matter: a load
//! that starts later reads the change itself. So a process hearing every
//! change to webhooks it never sends to (an API-only replica, say) keeps
//! nothing of them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderName, HeaderValue};
use tokio::sync::watch;
use uuid::Uuid;

use crate::domain::MASKED;
use crate::sql;
use crate::store::sealing::{Keys, OpenError};
use crate::store::{Client, StoreError};
use crate::workers::listener::Hears;

/// What a send needs from its webhook.
#[derive(Debug)]
pub struct Target {
    pub id: Uuid,
    pub version: i64,
    /// False for a disabled or deleted webhook: nothing may start.
    pub enabled: bool,
    pub url: String,
    pub secret: String,
    /// The secret before a rotation, while it is honoured (until the time given).
    pub previous_secret: Option<(String, DateTime<Utc>)>,
    /// Custom headers, ready for every request (empty for most webhooks, so
    /// their sends spend nothing on them).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Their names as JSON, each value masked, as the attempt log records
    /// them; `None` when there are none.
    pub headers_sent: Option<Arc<str>>,
}

impl Target {
    /// The previous secret, if it is still honoured now.
    pub fn previous_secret(&self) -> Option<&str> {
        self.previous_secret
            .as_ref()
            .filter(|(_, until)| *until > Utc::now())
            .map(|(s, _)| s.as_str())
    }
}

/// A webhook's custom headers (`webhooks.headers`, null when empty), parsed
/// once per load rather than per send. The API lets only valid ones in; one
/// written otherwise (by hand, in psql) that HTTP cannot carry is left out,
/// and so is not recorded as sent either.
fn custom_headers(
    stored: Option<serde_json::Value>,
) -> (Vec<(HeaderName, HeaderValue)>, Option<Arc<str>>) {
    let Some(serde_json::Value::Object(stored)) = stored else {
        return (Vec::new(), None);
    };
    let mut headers = Vec::with_capacity(stored.len());
    let mut sent = serde_json::Map::new();
    for (name, value) in stored {
        let parsed = value.as_str().and_then(|v| {
            Some((
                HeaderName::from_bytes(name.as_bytes()).ok()?,
                HeaderValue::from_str(v).ok()?,
            ))
        });
        match parsed {
            Some(header) => {
                headers.push(header);
                // The attempt log keeps the name only: values are credentials.
                sent.insert(name, serde_json::Value::from(MASKED));
            }
            None => {
                tracing::warn!(header = %name, "a stored custom header is not valid HTTP; not sending it")
            }
        }
    }
    let sent = (!sent.is_empty()).then(|| Arc::from(serde_json::Value::Object(sent).to_string()));
    (headers, sent)
}

/// The answer for one webhook.
#[derive(Debug, Clone)]
pub enum Current {
    /// Send to this.
    Send(Arc<Target>),
    /// Disabled or deleted: start nothing.
    Stop,
    /// Not known for certain here: read the database.
    Unknown,
}

/// Cached entries beyond which the cache starts over (a busy process touches
/// a few thousand webhooks; this only bounds memory).
const MAX_ENTRIES: usize = 100_000;

#[derive(Default)]
struct Inner {
    /// None: the webhook no longer exists.
    entries: HashMap<Uuid, Option<Arc<Target>>>,
    /// Newest version announced for a webhook being loaded, where no entry
    /// has it yet: what a load that read an older one must not cache.
    announced: HashMap<Uuid, i64>,
    /// How many loads under way read each webhook.
    loading: HashMap<Uuid, usize>,
    /// Bumped when announcements may have been missed.
    generation: u64,
    listening: bool,
}

/// The process's cache of send targets; shared by the API and the workers.
pub struct Targets {
    inner: Mutex<Inner>,
    /// Ticks at every announcement, so claims waiting for a worker can look
    /// again whether their webhook was disabled meanwhile.
    changes: watch::Sender<u64>,
    /// What opens the secrets and header values a load reads.
    keys: Keys,
}

impl Default for Targets {
    fn default() -> Self {
        Targets::new(Keys::default())
    }
}

impl Targets {
    pub fn new(keys: Keys) -> Targets {
        Targets {
            inner: Mutex::default(),
            changes: watch::Sender::new(0),
            keys,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Plain data: a panic elsewhere while holding the lock leaves it usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn current(&self, id: Uuid) -> Current {
        let inner = self.lock();
        if !inner.listening {
            return Current::Unknown;
        }
        match inner.entries.get(&id) {
            Some(Some(t)) if t.enabled => Current::Send(t.clone()),
            Some(_) => Current::Stop,
            None => Current::Unknown,
        }
    }

    /// A webhook reached `version`: what is cached of an older one is dropped.
    pub fn announce(&self, id: Uuid, version: i64) {
        let mut inner = self.lock();
        let cached = inner
            .entries
            .get(&id)
            .map(|e| e.as_ref().map(|t| t.version));
        match cached {
            // Deleted is final, and a newer version is already here.
            Some(None) => return,
            Some(Some(v)) if v >= version => return,
            Some(Some(_)) => {
                inner.entries.remove(&id);
            }
            None => {}
        }
        inner.note(id, version);
        drop(inner);
        self.changes.send_modify(|n| *n += 1);
    }

    /// The webhooks of `claimed` (id, version seen by the claim) not cached at
    /// that version or newer: the ones to load before their sends start.
    pub fn missing(&self, claimed: impl IntoIterator<Item = (Uuid, i64)>) -> Vec<Uuid> {
        let mut inner = self.lock();
        let mut missing: Vec<Uuid> = Vec::new();
        for (id, version) in claimed {
            let fresh = matches!(inner.entries.get(&id), Some(None))
                || matches!(inner.entries.get(&id), Some(Some(t)) if t.version >= version);
            if !fresh {
                if let Some(Some(_)) = inner.entries.get(&id) {
                    inner.entries.remove(&id);
                }
                inner.note(id, version);
                if !missing.contains(&id) {
                    missing.push(id);
                }
            }
        }
        missing
    }

    /// Reads the targets of `ids` from the database, caches them, and answers
    /// for each: `Stop` for one disabled, deleted or no longer there.
    pub async fn load(
        &self,
        client: &Client,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, Current>, StoreError> {
        let _loading = Loading::start(self, ids);
        let generation = self.lock().generation;
        let stmt = client.prepare_cached(sql::WEBHOOK_TARGETS).await?;
        let keys = &self.keys;
        let found: Vec<Arc<Target>> = client
            .query(&stmt, &[&ids])
            .await?
            .iter()
            .map(|row| {
                let id: Uuid = row.get("id");
                let previous: Option<&str> = row.get("previous_secret");
                let previous = previous.map(|p| keys.open(id, p)).transpose()?;
                let until: Option<DateTime<Utc>> = row.get("previous_secret_expires_at");
                let headers: Option<serde_json::Value> = row.get("headers");
                let headers = headers.map(|h| keys.open_headers(id, &h)).transpose()?;
                let (headers, headers_sent) = custom_headers(headers);
                Ok(Arc::new(Target {
                    id,
                    version: row.get("version"),
                    enabled: row.get("enabled"),
                    url: row.get("url"),
                    secret: keys.open(id, row.get::<_, &str>("secret"))?,
                    previous_secret: previous.zip(until),
                    headers,
                    headers_sent,
                }))
            })
            .collect::<Result<_, OpenError>>()?;
        self.remember(generation, ids, &found);
        let mut answers: HashMap<Uuid, Current> =
            ids.iter().map(|id| (*id, Current::Stop)).collect();
        for t in found.into_iter().filter(|t| t.enabled) {
            answers.insert(t.id, Current::Send(t));
        }
        Ok(answers)
    }

    /// Caches what a load of `asked` found (the others no longer exist), unless
    /// announcements were missed since the load began (`generation`), and
    /// except where a newer version was announced meanwhile.
    fn remember(&self, generation: u64, asked: &[Uuid], found: &[Arc<Target>]) {
        let mut inner = self.lock();
        if inner.generation != generation {
            return;
        }
        if inner.entries.len() > MAX_ENTRIES {
            inner.entries.clear();
        }
        for t in found {
            if inner.announced.get(&t.id).is_some_and(|v| *v > t.version) {
                continue;
            }
            // Another load, started later, may have cached a newer version
            // (or found the webhook gone) first.
            match inner.entries.get(&t.id) {
                Some(None) => continue,
                Some(Some(cached)) if cached.version > t.version => continue,
                _ => {}
            }
            inner.announced.remove(&t.id);
            inner.entries.insert(t.id, Some(t.clone()));
        }
        for id in asked
            .iter()
            .filter(|id| !found.iter().any(|t| t.id == **id))
        {
            inner.announced.remove(id);
            inner.entries.insert(*id, None);
        }
    }

    /// Resolves at the next announcement.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }
}

impl Inner {
    /// A webhook reached `version`, and its cached entry is gone: kept only
    /// while a load of it is under way, which could otherwise cache what it
    /// read before.
    fn note(&mut self, id: Uuid, version: i64) {
        if !self.loading.contains_key(&id) {
            return;
        }
        let newest = self.announced.entry(id).or_insert(version);
        *newest = (*newest).max(version);
    }
}

/// A load under way, for as long as it is: its webhooks' announcements are
/// kept until the last load of each has finished (or was dropped half way).
struct Loading<'a> {
    targets: &'a Targets,
    ids: Vec<Uuid>,
}

impl<'a> Loading<'a> {
    fn start(targets: &'a Targets, ids: &[Uuid]) -> Loading<'a> {
        let mut inner = targets.lock();
        let mut distinct: Vec<Uuid> = Vec::with_capacity(ids.len());
        for id in ids {
            if !distinct.contains(id) {
                *inner.loading.entry(*id).or_default() += 1;
                distinct.push(*id);
            }
        }
        Loading {
            targets,
            ids: distinct,
        }
    }
}

impl Drop for Loading<'_> {
    fn drop(&mut self) {
        let mut inner = self.targets.lock();
        for id in &self.ids {
            let last = match inner.loading.get_mut(id) {
                Some(n) if *n > 1 => {
                    *n -= 1;
                    false
                }
                _ => true,
            };
            if last {
                inner.loading.remove(id);
                inner.announced.remove(id);
            }
        }
    }
}

impl Hears for Targets {
    fn channel(&self) -> &'static str {
        "hookrelay_webhooks"
    }

    /// "<id> <version>", from trigger webhooks_announce.
    fn heard(&self, payload: &str) {
        let mut parts = payload.split(' ');
        let id = parts.next().and_then(|p| Uuid::parse_str(p).ok());
        let version = parts.next().and_then(|p| p.parse::<i64>().ok());
        match id.zip(version) {
            Some((id, version)) => self.announce(id, version),
            // Not ours to read: forget everything rather than miss a change.
            None => self.listening(true),
        }
    }

    /// Whether announcements are heard: on (re)connecting the LISTEN connection
    /// (after LISTEN took effect) and on losing it. Either way, start over.
    fn listening(&self, on: bool) {
        let mut inner = self.lock();
        inner.entries.clear();
        inner.announced.clear();
        inner.generation += 1;
        inner.listening = on;
        drop(inner);
        self.changes.send_modify(|n| *n += 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: Uuid = Uuid::from_u128(7);

    fn target(version: i64, enabled: bool) -> Vec<Arc<Target>> {
        vec![Arc::new(Target {
            id: ID,
            version,
            enabled,
            url: format!("http://v{version}.test/"),
            secret: String::new(),
            previous_secret: None,
            headers: Vec::new(),
            headers_sent: None,
        })]
    }

    fn generation(t: &Targets) -> u64 {
        t.lock().generation
    }

    fn listening() -> Targets {
        let t = Targets::default();
        t.listening(true);
        t
    }

    #[test]
    fn nothing_is_known_while_announcements_are_not_heard() {
        let t = Targets::default();
        let id = ID;
        let g = generation(&t);
        t.remember(g, &[id], &target(1, true));
        assert!(matches!(t.current(id), Current::Unknown));
    }

    #[test]
    fn an_announcement_drops_the_older_version() {
        let t = listening();
        let id = ID;
        t.remember(generation(&t), &[id], &target(1, true));
        assert!(matches!(t.current(id), Current::Send(ref x) if x.version == 1));
        t.announce(id, 2);
        assert!(matches!(t.current(id), Current::Unknown));
        t.remember(generation(&t), &[id], &target(2, false));
        assert!(matches!(t.current(id), Current::Stop));
    }

    #[test]
    fn a_slow_load_cannot_bring_back_an_older_version() {
        let t = listening();
        let id = ID;
        let load = Loading::start(&t, &[id]);
        let g = generation(&t);
        t.announce(id, 3);
        t.remember(g, &[id], &target(2, true));
        drop(load);
        assert!(matches!(t.current(id), Current::Unknown));
        // Announcements missed in between: the load does not count at all.
        let g = generation(&t);
        t.listening(true);
        t.remember(g, &[id], &target(3, true));
        assert!(matches!(t.current(id), Current::Unknown));
    }

    #[test]
    fn a_load_started_later_keeps_the_newer_version_it_cached_first() {
        let t = listening();
        let id = ID;
        let slow = Loading::start(&t, &[id]);
        let g = generation(&t);
        t.announce(id, 3);
        let quick = Loading::start(&t, &[id]);
        t.remember(g, &[id], &target(3, true));
        drop(quick);
        t.remember(g, &[id], &target(2, true));
        drop(slow);
        assert!(matches!(t.current(id), Current::Send(ref x) if x.version == 3));
    }

    #[test]
    fn changes_to_webhooks_no_load_is_reading_are_not_kept() {
        let t = listening();
        // A process that hears of every change and loads none of them (an
        // API-only replica) keeps nothing of what it hears.
        for n in 0..10_000u128 {
            t.heard(&format!("{} 2", Uuid::from_u128(n + 100)));
        }
        t.missing((0..100u128).map(|n| (Uuid::from_u128(n + 100), 3)));
        assert!(t.lock().announced.is_empty());
        // While a load reads a webhook, its announcements are kept, until the
        // last load of it ends.
        let first = Loading::start(&t, &[ID, ID]);
        let second = Loading::start(&t, &[ID]);
        t.announce(ID, 5);
        assert_eq!(t.lock().announced.get(&ID), Some(&5));
        drop(first);
        assert_eq!(t.lock().announced.get(&ID), Some(&5));
        drop(second);
        let inner = t.lock();
        assert!(inner.announced.is_empty() && inner.loading.is_empty());
    }

    #[test]
    fn a_claim_that_saw_a_newer_version_asks_for_a_load() {
        let t = listening();
        let (a, b) = (ID, Uuid::now_v7());
        t.remember(generation(&t), &[a], &target(1, true));
        assert_eq!(t.missing([(a, 1), (b, 1), (b, 1)]), vec![b]);
        assert_eq!(t.missing([(a, 2)]), vec![a]);
        assert!(matches!(t.current(a), Current::Unknown));
    }

    #[test]
    fn a_webhook_not_found_is_gone_for_good() {
        let t = listening();
        let id = ID;
        t.remember(generation(&t), &[id], &[]);
        assert!(matches!(t.current(id), Current::Stop));
        t.announce(id, 9);
        assert!(matches!(t.current(id), Current::Stop));
        assert!(t.missing([(id, 9)]).is_empty());
    }
}
