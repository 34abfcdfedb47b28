//! The deliveries table as a queue: claim, complete, rescue, release.
//!
//! A claim is one short transaction (`claim.rs`, `sql/claim_*.sql`) that
//! decides which due rows go next, within every lane's limits, takes them with
//! `FOR UPDATE SKIP LOCKED`, marks them `processing` with a lease
//! (`lease_expires_at`) and bumps `attempts`. It commits before anything is sent:
//! no transaction is open while a receiver is called.
//!
//! `attempts` doubles as the lease token. A completion names the attempt it
//! claimed and only applies while the row is still `processing` at that attempt,
//! so a worker that lost its lease (it stalled, the rescuer handed the row back,
//! another worker re-claimed it, the webhook was deleted) changes nothing: its
//! outcome is logged and dropped. The rescuer hands back rows whose lease ran
//! out, which is how a killed process's claims come back.

mod claim;
mod complete;
pub mod failing;
mod rescue;

pub use claim::{claim, next_due, Claim, Claimed, Limits, RATE_LATE};
pub use complete::{complete, Completion, Status, Written, TRIP_AFTER};
pub use rescue::{reconcile_held, release, rescue_expired, Release};
