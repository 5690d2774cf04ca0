//! # ballast-store — Ballast's crash-safe storage
//!
//! - [`journal`]: segmented, append-only JSONL with a CRC32C per record, durable appends with
//!   group commit, and the repair rules of SPEC §2.
//! - [`snapshot`]: atomic snapshots (temp file → fsync → rename → fsync directory) recording
//!   the seq they cover; [`recovery`]: newest valid snapshot + replay.
//! - [`storage`]: the only door to the file system, so that [`sim`] can stand in for it and
//!   produce every crash image.
//! - [`files`]: one type per file two processes share (heartbeat, policy, kill switch, locks,
//!   health report), read bounded and written through a [`storage::Storage`]; [`layout`]
//!   names every path of the data directory.
//!
//! Invariant: nothing but [`journal::Journal`] appends to a journal, and every byte this crate
//! writes goes through a [`storage::Storage`] — but the holder's pid in a [`pidlock`] file.

#![forbid(unsafe_code)]

pub mod bounded;
pub mod chaos;
pub mod files;
pub mod journal;
pub mod layout;
pub mod limits;
pub mod pidlock;
pub mod quarantine;
pub mod record;
pub mod recovery;
pub mod sim;
pub mod snapshot;
pub mod storage;
pub mod system_clock;

pub use journal::{Journal, JournalError, JournalOptions, OpenPolicy};
pub use layout::Layout;
pub use storage::{RealStorage, Storage};
pub use system_clock::SystemClock;
