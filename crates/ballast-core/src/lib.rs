//! # ballast-core — the pure decision core of Ballast
//!
//! Everything Ballast *decides* lives here, as plain functions of data and an injected
//! [`Clock`](clock::Clock): configuration validation, and (with later components) guard
//! verdicts, signal transitions, reconciliation diffs, heal plans and health aggregation.
//!
//! Invariants of this crate (SPEC principle 8, checked in review and by its dependency list):
//! - no I/O: no `std::fs`, no sockets, no processes, no environment reads;
//! - no async runtime;
//! - no wall-clock reads: time comes in through [`clock::Clock`] or as an argument.
//!
//! Shells (`ballast-store`, the `ballast` binary) read files and the environment and pass the
//! text in; they carry out what this crate decides.

#![forbid(unsafe_code)]

pub mod alerts;
pub mod backtest;
pub mod broker;
pub mod cache;
pub mod clock;
pub mod config;
pub mod domain;
pub mod engine;
pub mod guard;
pub mod hash;
pub mod heal;
pub mod health;
pub mod inbox;
pub mod intake;
pub mod layout;
pub mod ledger;
pub mod limits;
pub mod live;
pub mod market;
pub mod paper;
pub mod pipeline;
pub mod policy;
pub mod portfolio;
pub mod reconcile;
pub mod recovery;
pub mod resolve;
pub mod sealed;
pub mod shadow;
pub mod signal;
pub mod strategy;
pub mod supervisor;
pub mod text;
pub mod time;
pub mod trades;
pub mod universe;
pub mod venue;

pub use clock::{Clock, ManualClock};
pub use time::Timestamp;
