//! The segmented, append-only, checksummed journal (SPEC §2).
//!
//! - [`scan`] reads and validates without changing anything (`ballast journal verify`).
//! - [`Journal::open`] scans, applies the repair rules, and returns a writer positioned after
//!   the last valid record.
//! - [`Journal::append`] is durable before it returns (`fdatasync`); concurrent appenders are
//!   group-committed: one leader writes and syncs everything queued, the others wait.
//! - A failed write or sync poisons the writer: every later append is refused until the
//!   journal is reopened (never retry an fsync and believe it).

mod error;
mod open;
pub mod scan;
pub mod segment;
mod writer;

pub use error::{FailInfo, IoOp, JournalError};
pub use open::{OpenPolicy, OpenReport};
pub use scan::{Damage, Problem, Scan, SegmentInfo, TornTail, Verdict, scan};
pub use writer::{Journal, JournalOptions};
