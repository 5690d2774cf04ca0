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

/// Whether the scenarios of the in-process chaos modes (`CHAOS_MODE`: disk_full, clock_skew,
/// stale_feed) run. The modes are built (docs/CHAOS.md); against them these scenarios do not
/// meet their declared responses yet (disk_full crash-loops to NO_NEW_TRADES, clock_skew left
/// the journal flat while the broker held a position, stale_feed leaves signals untaken), so
/// they are declared and not run until each response is settled.
pub const IN_PROCESS_SEAMS: bool = false;
