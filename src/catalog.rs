//! The event-type catalog as ingest consults it: what each type allows, its
//! schema compiled, kept in the process.
//!
//! `POST /events` asks about its type on every request, so asking must cost a
//! lookup in memory, not a query and certainly not a schema compilation; that
//! holds for a type the catalog does not have too (the answer "not in the
//! catalog" is cached like any other). The cache is kept true by being told
//! of every change, as `delivery::Targets` is:
//!
//! - A change made through this process's API is announced here before the
//!   request returns (`forget`), so the next event already sees it.
//! - Every change, wherever it is made (another process sharing the database,
//!   psql), fires trigger `event_types_announce`, which NOTIFYs the type's name
//!   on `hookrelay_event_types`; the process's LISTEN connection
//!   (`workers::listener`, whether or not workers run here) forgets that type.
//! - While that connection is down, announcements may be missed: nothing is
//!   cached and every lookup reads the database. When it is back, the cache
//!   starts empty.
//!
//! A load that began before an announcement cannot store what it read: loads
//! carry the generation they began in, and every announcement starts a new one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::domain::EventSchema;
use crate::store::{event_types, Pool, StoreError};
use crate::workers::listener::Hears;

/// What the catalog says of one type it holds.
#[derive(Debug)]
pub struct Rules {
    pub archived: bool,
    /// Every payload of the type must satisfy it.
    pub schema: Option<EventSchema>,
}

/// Cached types beyond which the cache starts over: types the catalog does not
/// hold are cached too, and anyone with a token may name new ones.
const MAX_ENTRIES: usize = 10_000;

#[derive(Default)]
struct Inner {
    /// `None`: not in the catalog.
    entries: HashMap<String, Option<Arc<Rules>>>,
    /// Bumped by every announcement.
    generation: u64,
    listening: bool,
}

/// The process's cache of the catalog; shared by the API's handlers.
#[derive(Default)]
pub struct Catalog {
    inner: Mutex<Inner>,
}

impl Catalog {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Plain data: a panic elsewhere while holding the lock leaves it usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What the catalog says of `name`; `None` when it does not hold it.
    pub async fn rules(&self, pool: &Pool, name: &str) -> Result<Option<Arc<Rules>>, StoreError> {
        let generation = match self.cached(name) {
            Ok(known) => return Ok(known),
            Err(generation) => generation,
        };
        let entry = event_types::get(&pool.get().await?, name).await?;
        let rules = match entry {
            None => None,
            Some(entry) => {
                let schema = entry
                    .schema
                    .map(|s| {
                        EventSchema::parse(s).map_err(|e| {
                            StoreError::Inconsistent(format!(
                                "the catalog's schema of {name:?} {e}"
                            ))
                        })
                    })
                    .transpose()?;
                Some(Arc::new(Rules {
                    archived: entry.archived,
                    schema,
                }))
            }
        };
        self.remember(generation, name, rules.clone());
        Ok(rules)
    }

    /// The cached answer for `name`, or else the generation a load of it begins in.
    fn cached(&self, name: &str) -> Result<Option<Arc<Rules>>, u64> {
        let inner = self.lock();
        match inner.entries.get(name) {
            Some(known) if inner.listening => Ok(known.clone()),
            _ => Err(inner.generation),
        }
    }

    /// Caches what a load that began in `generation` read, unless announcements
    /// came (or may have been missed) since.
    fn remember(&self, generation: u64, name: &str, rules: Option<Arc<Rules>>) {
        let mut inner = self.lock();
        if !inner.listening || inner.generation != generation {
            return;
        }
        if inner.entries.len() >= MAX_ENTRIES {
            inner.entries.clear();
        }
        inner.entries.insert(name.to_owned(), rules);
    }

    /// `name` changed: what is cached of it is dropped, and loads under way
    /// will not store what they read.
    pub fn forget(&self, name: &str) {
        let mut inner = self.lock();
        inner.entries.remove(name);
        inner.generation += 1;
    }
}

impl Hears for Catalog {
    fn channel(&self) -> &'static str {
        "hookrelay_event_types"
    }

    fn heard(&self, payload: &str) {
        match payload {
            // TRUNCATE: anything may have changed.
            "" => self.listening(true),
            name => self.forget(name),
        }
    }

    /// On (re)connecting the LISTEN connection (after LISTEN took effect), on
    /// losing it, and when told that anything may have changed: start over.
    fn listening(&self, on: bool) {
        let mut inner = self.lock();
        inner.entries.clear();
        inner.generation += 1;
        inner.listening = on;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generation(catalog: &Catalog) -> u64 {
        catalog.cached("").map_or_else(|g| g, |_| unreachable!())
    }

    #[test]
    fn nothing_is_kept_while_announcements_are_not_heard() {
        let catalog = Catalog::default();
        catalog.remember(generation(&catalog), "a", None);
        assert!(catalog.cached("a").is_err());
        catalog.listening(true);
        catalog.remember(generation(&catalog), "a", None);
        assert!(
            matches!(catalog.cached("a"), Ok(None)),
            "not in the catalog, known"
        );
        catalog.listening(false);
        assert!(catalog.cached("a").is_err());
        catalog.listening(true);
        assert!(catalog.cached("a").is_err(), "a reconnect starts empty");
    }

    #[test]
    fn a_load_that_began_before_an_announcement_stores_nothing() {
        let catalog = Catalog::default();
        catalog.listening(true);
        let began = generation(&catalog);
        catalog.forget("a");
        catalog.remember(began, "a", None);
        assert!(catalog.cached("a").is_err());
        catalog.remember(generation(&catalog), "b", None);
        catalog.forget("b");
        assert!(catalog.cached("b").is_err());
    }
}
