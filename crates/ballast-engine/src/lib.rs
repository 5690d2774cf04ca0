//! # ballast-engine — the trading engine runtime
//!
//! Carries out what `ballast_core::engine` decides: reads the feed, journals each record
//! before applying it, snapshots, writes the heartbeat, and recovers from snapshot + journal
//! after any crash. `ballast engine --standalone` and `ballast run` drive it.

#![forbid(unsafe_code)]

pub mod feed;
pub mod heartbeat;
pub mod inbox;
pub mod limits;
pub mod lock;
pub mod runtime;
mod signals;

pub use runtime::{
    CompatFailure, EngineError, ExternalVenue, FeedStall, Options, Report, run, run_on,
};
