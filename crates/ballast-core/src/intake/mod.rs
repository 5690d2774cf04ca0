//! Signals over HTTP (`POST /v1/signals`), decided purely: the record the API journals in
//! `journal/signals/` for each accepted signal, the id it answers with, the idempotency-key
//! index (bounded, rebuilt from the journal at a start), and the backpressure rule. The API
//! carries these out (the journal append, the answer); the engine takes the records in order
//! and journals what it took ([`crate::engine::TakenRecord`]), so each is taken exactly once.
//!
//! - **Id**: `api-<seq>`, the record's seq in `journal/signals/` — the same signal always has
//!   the same id, across restarts of either process. (An inbox line is named by its line
//!   number; both become an engine signal `sig-<n>` when the engine decides them.)
//! - **Idempotency**: the same `idempotency_key` again answers the first signal's id (`200`,
//!   `"status": "duplicate"`) and journals nothing; the same key with another signal is
//!   refused (422); a key whose first request is still being made durable answers 409 (retry).
//!   The index keeps the newest [`crate::limits::SIGNALS_DEDUP_KEYS_COUNT`] keys: an older key
//!   is forgotten, and a repeat of it is a new signal.
//! - **Backpressure**: signals appended (or being appended) and not yet taken by the engine
//!   over `[api] signals_max_backlog` → 429 with `Retry-After`, nothing journaled.

mod states;

pub use states::{Fate, SignalStates};

use std::collections::{HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::inbox::ExternalSignal;
use crate::time::Timestamp;

/// The record type of `journal/signals/`.
pub const RECORD: &str = "signal.accepted";

/// The prefix of an HTTP signal's id.
pub const ID_PREFIX: &str = "api-";

/// One accepted signal, as `journal/signals/` holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournaledSignal {
    /// When the API accepted it.
    pub at: Timestamp,
    pub signal: ExternalSignal,
}

/// The id of the signal at `seq` in `journal/signals/`.
pub fn signal_id(seq: u64) -> String {
    format!("{ID_PREFIX}{seq}")
}

/// The seq an id names (`api-42` → 42), if it is one.
pub fn parse_signal_id(id: &str) -> Option<u64> {
    id.strip_prefix(ID_PREFIX)?.parse().ok().filter(|s| *s > 0)
}

/// A signal's fingerprint: what tells a repeat of a request from another signal under the
/// same key (FNV-1a of its canonical JSON).
pub fn fingerprint(signal: &ExternalSignal) -> u64 {
    let json = serde_json::to_vec(signal).unwrap_or_default();
    crate::hash::fnv1a(json)
}

/// Why a signal is not taken now: too many wait for the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backlogged {
    /// Signals journaled (or being journaled) that the engine has not taken.
    pub backlog: u64,
    pub bound: u64,
    /// Seconds to wait before trying again.
    pub retry_after_secs: u64,
}

/// Whether one more signal may be journaled: `appended` is the last seq of
/// `journal/signals/`, `in_flight` the appends under way, `taken` the last seq the engine
/// took (its heartbeat says; 0 before it took any), `engine_running` whether its heartbeat is
/// fresh. At the bound the caller waits: one second if the engine runs (it takes signals every
/// loop), five if it does not (it has to be started first).
pub fn admit(
    appended: u64,
    in_flight: u64,
    taken: u64,
    bound: u64,
    engine_running: bool,
) -> Result<(), Backlogged> {
    let backlog = (appended + in_flight).saturating_sub(taken);
    if backlog < bound {
        return Ok(());
    }
    Err(Backlogged {
        backlog,
        bound,
        retry_after_secs: if engine_running { 1 } else { 5 },
    })
}

/// What the index says of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// Not seen (or forgotten): the signal is new.
    New,
    /// The same signal was journaled at this seq.
    Duplicate(u64),
    /// Another signal was journaled under this key, at this seq.
    Conflict(u64),
    /// The first request with this key is still being made durable.
    InProgress,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    Durable { seq: u64, print: u64 },
    InFlight { print: u64 },
}

/// The idempotency keys of the newest signals, at most `cap` (the oldest forgotten first).
#[derive(Debug, Clone)]
pub struct KeyIndex {
    cap: usize,
    map: HashMap<String, Entry>,
    /// Keys in the order they were first seen.
    order: VecDeque<String>,
}

impl KeyIndex {
    pub fn new(cap: usize) -> KeyIndex {
        KeyIndex {
            cap: cap.max(1),
            map: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn look(&self, key: &str, print: u64) -> Lookup {
        match self.map.get(key) {
            None => Lookup::New,
            Some(Entry::InFlight { .. }) => Lookup::InProgress,
            Some(Entry::Durable { seq, print: p }) if *p == print => Lookup::Duplicate(*seq),
            Some(Entry::Durable { seq, .. }) => Lookup::Conflict(*seq),
        }
    }

    /// A journaled signal's key (at a start, from the journal; after an append).
    pub fn remember(&mut self, key: &str, seq: u64, print: u64) {
        self.put(key, Entry::Durable { seq, print });
    }

    /// A key whose signal is being journaled now.
    pub fn reserve(&mut self, key: &str, print: u64) {
        self.put(key, Entry::InFlight { print });
    }

    /// The append of a reserved key failed: the key is free again.
    pub fn release(&mut self, key: &str) {
        if matches!(self.map.get(key), Some(Entry::InFlight { .. })) {
            self.map.remove(key);
            self.order.retain(|k| k != key);
        }
    }

    fn put(&mut self, key: &str, entry: Entry) {
        if self.map.insert(key.to_owned(), entry).is_none() {
            self.order.push_back(key.to_owned());
        }
        while self.map.len() > self.cap {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            self.map.remove(&oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_refuse_others() {
        assert_eq!(signal_id(42), "api-42");
        assert_eq!(parse_signal_id("api-42"), Some(42));
        for bad in ["api-0", "api-", "sig-4", "api-x", "42"] {
            assert_eq!(parse_signal_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_backlog_bound_counts_appends_under_way_and_waits_longer_without_an_engine() {
        assert!(admit(9, 0, 0, 10, true).is_ok());
        assert_eq!(
            admit(9, 1, 0, 10, true),
            Err(Backlogged {
                backlog: 10,
                bound: 10,
                retry_after_secs: 1
            })
        );
        assert!(admit(20_000, 0, 19_999, 10, true).is_ok());
        assert_eq!(admit(10, 0, 0, 10, false).unwrap_err().retry_after_secs, 5);
        // A heartbeat ahead of the journal (a journal moved away) never underflows.
        assert!(admit(3, 0, 10, 10, true).is_ok());
    }

    #[test]
    fn keys_answer_duplicate_conflict_or_in_progress_and_the_oldest_is_forgotten() {
        let mut ix = KeyIndex::new(2);
        assert_eq!(ix.look("a", 1), Lookup::New);
        ix.reserve("a", 1);
        assert_eq!(ix.look("a", 1), Lookup::InProgress);
        ix.remember("a", 5, 1);
        assert_eq!(ix.look("a", 1), Lookup::Duplicate(5));
        assert_eq!(ix.look("a", 2), Lookup::Conflict(5));
        ix.reserve("b", 1);
        ix.release("b");
        assert_eq!(ix.look("b", 1), Lookup::New);
        ix.remember("b", 6, 1);
        ix.remember("c", 7, 1);
        assert_eq!(ix.len(), 2);
        assert_eq!(ix.look("a", 1), Lookup::New, "the oldest key is forgotten");
        assert_eq!(ix.look("c", 1), Lookup::Duplicate(7));
        ix.release("c");
        assert_eq!(ix.look("c", 1), Lookup::Duplicate(7), "durable keys stay");
    }
}
