//! Failed authentication, counted per client address: after `LIMIT` failures
//! within a `WINDOW`, the address gets `429` (with `Retry-After`) for every
//! bearer token and console sign-in it presents until that window ends.
//!
//! A token is 32 random bytes, so guessing one is hopeless anyway; what this
//! bounds is the work a flood of wrong tokens makes (each unknown `hrt_`
//! token is a database look-up) and the pace of guessing at operator tokens,
//! which an operator chooses. The address is the connection's peer: headers
//! such as `Forwarded` are the client's to write, so trusting them would let
//! any client pick a fresh address per request. Behind a proxy every client
//! shares the proxy's address; the count is per process.
//!
//! The table is bounded: when it is full, addresses whose window has ended are
//! dropped, and if none has, a new address is not counted (an attacker with
//! that many addresses is not slowed by a per-address count anyway).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures an address may make within one window.
pub const LIMIT: u32 = 20;
/// How long failures are counted from the first of them.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Most addresses counted at once.
const MAX_ADDRESSES: usize = 10_000;

#[derive(Default)]
pub struct Throttle {
    failures: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl Throttle {
    /// How long `address` must wait before it may authenticate again, if it
    /// has failed `LIMIT` times within the window.
    pub fn refused(&self, address: Option<IpAddr>) -> Option<Duration> {
        let address = address?;
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let (since, count) = failures.get(&address)?;
        let left = WINDOW.saturating_sub(since.elapsed());
        (*count >= LIMIT && !left.is_zero()).then_some(left)
    }

    /// Counts one failed authentication from `address`.
    pub fn failed(&self, address: Option<IpAddr>) {
        let Some(address) = address else {
            return;
        };
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if failures.len() >= MAX_ADDRESSES && !failures.contains_key(&address) {
            failures.retain(|_, (since, _)| since.elapsed() < WINDOW);
            if failures.len() >= MAX_ADDRESSES {
                return;
            }
        }
        let entry = failures.entry(address).or_insert((Instant::now(), 0));
        if entry.0.elapsed() >= WINDOW {
            *entry = (Instant::now(), 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_twenty_first_failure_in_a_window_is_refused_for_that_address_only() {
        let throttle = Throttle::default();
        let one: IpAddr = "192.0.2.1".parse().expect("literal");
        let other: IpAddr = "192.0.2.2".parse().expect("literal");
        for _ in 0..LIMIT {
            assert!(throttle.refused(Some(one)).is_none());
            throttle.failed(Some(one));
        }
        let wait = throttle.refused(Some(one)).expect("refused");
        assert!(wait <= WINDOW && wait > WINDOW - Duration::from_secs(5));
        assert!(throttle.refused(Some(other)).is_none());
        assert!(throttle.refused(None).is_none());
    }
}
