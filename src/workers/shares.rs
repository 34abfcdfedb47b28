//! This process's workers, shared fairly: one webhook, or one tenant (all its
//! webhooks together, tenant `default` excepted), never sends on more than
//! half of them at once.
//!
//! The limits users set (`max_in_flight`, the tenant cap) are counted in the
//! database, over claims, across every process (`queue::claim`). Their
//! defaults are twice the workers, so that one busy, healthy receiver keeps
//! every worker of a process fed with claims waiting behind its sends (at a
//! cap of half the workers counted as claims, one webhook drained 2,800/s
//! where it drains 7,400/s so). Those claims must not all become sends at
//! once: a receiver that hangs until the timeout would hold every worker, and
//! every other webhook would wait. So each send also takes a place in its
//! webhook's share and its tenant's here, of half the workers each.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

use super::lock;
use crate::domain::DEFAULT_TENANT;

#[derive(Clone, PartialEq, Eq, Hash)]
enum Owner {
    Webhook(Uuid),
    Tenant(String),
}

/// Sends under way per webhook and per tenant in this process.
pub(super) struct Shares {
    places: usize,
    held: Mutex<HashMap<Owner, Arc<Semaphore>>>,
}

/// A send's places; given back when dropped.
pub(super) struct Places<'a> {
    shares: &'a Shares,
    held: Vec<(Owner, Arc<Semaphore>, OwnedSemaphorePermit)>,
}

impl Shares {
    /// Half of `workers` places for each webhook and each tenant.
    pub fn new(workers: usize) -> Shares {
        Shares {
            places: (workers / 2).max(1),
            held: Mutex::default(),
        }
    }

    /// Waits for a place in the webhook's share and in its tenant's.
    pub async fn enter(&self, webhook: Uuid, tenant: &str) -> Places<'_> {
        let mut owners = vec![Owner::Webhook(webhook)];
        if tenant != DEFAULT_TENANT {
            owners.push(Owner::Tenant(tenant.to_owned()));
        }
        let mut places = Places {
            shares: self,
            held: Vec::with_capacity(owners.len()),
        };
        for owner in owners {
            let share = lock(&self.held)
                .entry(owner.clone())
                .or_insert_with(|| Arc::new(Semaphore::new(self.places)))
                .clone();
            // The semaphores are never closed.
            if let Ok(permit) = share.clone().acquire_owned().await {
                places.held.push((owner, share, permit));
            }
        }
        places
    }
}

impl Drop for Places<'_> {
    fn drop(&mut self) {
        let mut held = lock(&self.shares.held);
        for (owner, share, permit) in self.held.drain(..) {
            drop(permit);
            // Nobody else holds or waits for it (the map and this send are
            // its only owners): forget it, so the map stays small.
            if Arc::strong_count(&share) == 2 {
                held.remove(&owner);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_webhook_and_a_tenant_each_get_half_the_workers_and_are_forgotten_after() {
        let shares = Shares::new(4);
        let w = Uuid::new_v4();
        let first = shares.enter(w, "acme").await;
        let second = shares.enter(Uuid::new_v4(), "acme").await;
        let third = tokio::time::timeout(
            std::time::Duration::from_millis(50),
            shares.enter(Uuid::new_v4(), "acme"),
        )
        .await;
        assert!(third.is_err(), "acme has two of four workers");
        let other = tokio::time::timeout(
            std::time::Duration::from_millis(50),
            shares.enter(Uuid::new_v4(), DEFAULT_TENANT),
        )
        .await;
        assert!(other.is_ok(), "another tenant is not held by acme");
        drop(other);
        drop((first, second));
        assert!(lock(&shares.held).is_empty(), "nothing held, nothing kept");
    }
}
