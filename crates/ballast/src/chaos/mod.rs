//! The chaos runner (`ballast chaos`, SPEC §10): each scenario against a throw-away paper
//! instance of real processes — the fake Alpaca, `ballast run` (supervisor, engine, API) —
//! with signal load, its fault injected from the outside, the response declared next to it
//! checked, then the ledger invariants. And the kill -9 soak (`ballast chaos soak`,
//! `bench/soak.sh`).
//!
//! Pure: [`scenario`] (the scenarios as data), [`verdict`] (what a run's observations mean),
//! [`report`] (the table and the JSON), [`ledger::compare`]. Shells: [`instance`] (the
//! processes), [`runner`] (one scenario's steps), [`load`] (the signal load), [`soak`].

pub mod http;
pub mod instance;
pub mod ledger;
pub mod load;
pub mod report;
pub mod rng;
pub mod runner;
pub mod scenario;
pub mod soak;
pub mod verdict;

/// Whether this build has the in-process chaos seams (`CHAOS_MODE`: disk_full, clock_skew,
/// stale_feed). Until they are merged their scenarios are declared and not run.
pub const IN_PROCESS_SEAMS: bool = false;
