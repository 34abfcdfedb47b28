//! Sending one attempt and deciding what it means.
//!
//! `send` makes the signed request (`sign`) through a shared keep-alive client
//! whose DNS answers pass the address guard (`guard`); `outcome` turns the
//! answer into data — `Delivered`, `Retry { after }` or `Failed { reason }` —
//! using the retry schedule; `targets` says where an attempt goes, as of the
//! moment it starts. Errors here are about receivers, never about
//! hookrelay: a receiver that misbehaves is an outcome, not a Rust error.

pub mod guard;
pub mod outcome;
pub mod send;
pub mod sign;
pub mod targets;

pub use outcome::{decide, Outcome};
pub use send::{Answer, Attempted, Failure, Sender};
pub use targets::{Current, Target, Targets};
