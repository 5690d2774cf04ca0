//! Signals and their state machine (SPEC §3):
//!
//! ```text
//! NEW → VALIDATED → APPROVED | REJECTED
//! APPROVED → SUBMITTED → PARTIALLY_FILLED → FILLED | CANCELLED | EXPIRED | FAILED
//! ```
//!
//! Illegal transitions are bugs: they are refused (an error value to report), never applied.
//! Non-terminal signals expire when stuck longer than `stuck_after` in one state or older than
//! `max_age` ([`SignalBook::stale`], used by the healer).

use std::collections::{BTreeMap, VecDeque};
use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::domain::{SignalId, Symbol};
use crate::limits::DONE_SIGNALS_KEPT_COUNT;
use crate::time::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SignalState {
    New,
    Validated,
    Approved,
    Rejected,
    Submitted,
    PartiallyFilled,
    Filled,
    Cancelled,
    Expired,
    Failed,
}

impl SignalState {
    pub const ALL: [SignalState; 10] = [
        SignalState::New,
        SignalState::Validated,
        SignalState::Approved,
        SignalState::Rejected,
        SignalState::Submitted,
        SignalState::PartiallyFilled,
        SignalState::Filled,
        SignalState::Cancelled,
        SignalState::Expired,
        SignalState::Failed,
    ];

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            SignalState::Rejected
                | SignalState::Filled
                | SignalState::Cancelled
                | SignalState::Expired
                | SignalState::Failed
        )
    }

    /// Is `self → to` a legal transition?
    pub fn can_go_to(self, to: SignalState) -> bool {
        use SignalState::*;
        matches!(
            (self, to),
            (New, Validated | Rejected | Expired)
                | (Validated, Approved | Rejected | Expired)
                | (Approved, Submitted | Failed | Expired | Cancelled)
                | (
                    Submitted,
                    PartiallyFilled | Filled | Cancelled | Expired | Failed
                )
                | (
                    PartiallyFilled,
                    PartiallyFilled | Filled | Cancelled | Expired
                )
        )
    }

    pub fn name(self) -> &'static str {
        use SignalState::*;
        match self {
            New => "NEW",
            Validated => "VALIDATED",
            Approved => "APPROVED",
            Rejected => "REJECTED",
            Submitted => "SUBMITTED",
            PartiallyFilled => "PARTIALLY_FILLED",
            Filled => "FILLED",
            Cancelled => "CANCELLED",
            Expired => "EXPIRED",
            Failed => "FAILED",
        }
    }
}

impl fmt::Display for SignalState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A refused transition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("illegal signal transition for {id}: {from} -> {to}")]
    Illegal {
        id: SignalId,
        from: SignalState,
        to: SignalState,
    },
    #[error("unknown signal {0}")]
    Unknown(SignalId),
}

/// A signal as the bus accepted it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signal {
    pub id: SignalId,
    pub symbol: Symbol,
    /// Target signed position the strategy wants.
    pub target_qty: Decimal,
    pub reason: String,
    pub strategy: String,
    pub created_at: Timestamp,
    pub state: SignalState,
    /// When it entered its current state.
    pub since: Timestamp,
    pub filled_qty: Decimal,
}

/// The signals the engine tracks: every non-terminal one, and a bounded history of terminal
/// ones (oldest dropped first).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignalBook {
    live: BTreeMap<SignalId, Signal>,
    done: VecDeque<Signal>,
    /// Signals per state ever entered (for the pipeline monitor).
    pub entered: BTreeMap<SignalState, u64>,
}

impl SignalBook {
    /// Add a new signal in state NEW.
    pub fn add(&mut self, signal: Signal) {
        *self.entered.entry(SignalState::New).or_default() += 1;
        self.live.insert(signal.id, signal);
    }

    pub fn get(&self, id: SignalId) -> Option<&Signal> {
        self.live
            .get(&id)
            .or_else(|| self.done.iter().rev().find(|s| s.id == id))
    }

    /// Whether `id` is a signal not yet terminal.
    pub fn is_live(&self, id: SignalId) -> bool {
        self.live.contains_key(&id)
    }

    /// Non-terminal signals, oldest first.
    pub fn live(&self) -> impl Iterator<Item = &Signal> {
        self.live.values()
    }

    pub fn recent_done(&self) -> impl Iterator<Item = &Signal> {
        self.done.iter().rev()
    }

    /// Move `id` to `to` at `now`, if legal.
    pub fn transition(
        &mut self,
        id: SignalId,
        to: SignalState,
        now: Timestamp,
    ) -> Result<(), TransitionError> {
        let s = self.live.get_mut(&id).ok_or(TransitionError::Unknown(id))?;
        if !s.state.can_go_to(to) {
            return Err(TransitionError::Illegal {
                id,
                from: s.state,
                to,
            });
        }
        s.state = to;
        s.since = now;
        *self.entered.entry(to).or_default() += 1;
        if to.is_terminal() {
            if let Some(done) = self.live.remove(&id) {
                self.done.push_back(done);
                if self.done.len() > DONE_SIGNALS_KEPT_COUNT {
                    self.done.pop_front();
                }
            }
        }
        Ok(())
    }

    /// Record filled quantity on a live signal.
    pub fn add_fill(&mut self, id: SignalId, qty: Decimal) {
        if let Some(s) = self.live.get_mut(&id) {
            s.filled_qty += qty;
        }
    }

    /// Non-terminal signals stuck in one state longer than `stuck_after_ms` or older than
    /// `max_age_ms`, with why.
    pub fn stale(
        &self,
        now: Timestamp,
        stuck_after_ms: i64,
        max_age_ms: i64,
    ) -> Vec<(SignalId, String)> {
        self.live
            .values()
            .filter_map(|s| {
                let age = now.ms_since(s.created_at);
                let stuck = now.ms_since(s.since);
                if age > max_age_ms {
                    Some((
                        s.id,
                        format!(
                            "older than max_age ({} > {})",
                            crate::time::Human(age.max(0).unsigned_abs()),
                            crate::time::Human(max_age_ms.max(0).unsigned_abs())
                        ),
                    ))
                } else if stuck > stuck_after_ms {
                    Some((
                        s.id,
                        format!(
                            "stuck in {} for {} > {}",
                            s.state,
                            crate::time::Human(stuck.max(0).unsigned_abs()),
                            crate::time::Human(stuck_after_ms.max(0).unsigned_abs())
                        ),
                    ))
                } else {
                    None
                }
            })
            .collect()
    }

    /// Age of the oldest non-terminal signal.
    pub fn oldest_live_age_ms(&self, now: Timestamp) -> Option<i64> {
        self.live.values().map(|s| now.ms_since(s.created_at)).max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sig(id: u64) -> Signal {
        Signal {
            id: SignalId(id),
            symbol: Symbol::new("AAPL").unwrap(),
            target_qty: Decimal::TEN,
            reason: "test".into(),
            strategy: "t".into(),
            created_at: Timestamp::EPOCH,
            state: SignalState::New,
            since: Timestamp::EPOCH,
            filled_qty: Decimal::ZERO,
        }
    }

    #[test]
    fn the_happy_path_and_illegal_moves() {
        use SignalState::*;
        let mut b = SignalBook::default();
        b.add(sig(1));
        let t = Timestamp::from_unix_ms(5);
        for s in [
            Validated,
            Approved,
            Submitted,
            PartiallyFilled,
            PartiallyFilled,
            Filled,
        ] {
            b.transition(SignalId(1), s, t).unwrap();
        }
        assert_eq!(b.get(SignalId(1)).unwrap().state, Filled);
        assert_eq!(b.live().count(), 0);
        b.add(sig(2));
        let e = b.transition(SignalId(2), Submitted, t).unwrap_err();
        assert_eq!(
            e.to_string(),
            "illegal signal transition for sig-2: NEW -> SUBMITTED"
        );
        assert_eq!(
            b.get(SignalId(2)).unwrap().state,
            New,
            "refused, not applied"
        );
        assert!(matches!(
            b.transition(SignalId(9), Filled, t),
            Err(TransitionError::Unknown(_))
        ));
    }

    #[test]
    fn stale_signals_are_found_by_stuck_time_and_age() {
        let mut b = SignalBook::default();
        b.add(sig(1));
        let mut s2 = sig(2);
        s2.created_at = Timestamp::from_unix_ms(3_000_000);
        s2.since = s2.created_at;
        b.add(s2);
        let now = Timestamp::from_unix_ms(3_700_000);
        let stale = b.stale(now, 3_600_000, 7_200_000);
        assert_eq!(stale.len(), 1);
        assert!(stale[0].1.contains("stuck in NEW"), "{}", stale[0].1);
        assert!(
            b.stale(Timestamp::from_unix_ms(8_000_000), 9_000_000, 7_200_000)[0]
                .1
                .starts_with("older")
        );
    }

    #[test]
    fn terminal_history_is_bounded() {
        let mut b = SignalBook::default();
        for i in 0..(DONE_SIGNALS_KEPT_COUNT as u64 + 10) {
            b.add(sig(i));
            b.transition(SignalId(i), SignalState::Rejected, Timestamp::EPOCH)
                .unwrap();
        }
        assert_eq!(b.recent_done().count(), DONE_SIGNALS_KEPT_COUNT);
    }

    proptest! {
        #[test]
        fn terminal_states_have_no_way_out_and_state_changes_only_when_legal(moves in proptest::collection::vec(0usize..10, 0..40)) {
            let mut b = SignalBook::default();
            b.add(sig(1));
            let mut state = SignalState::New;
            for m in moves {
                let to = SignalState::ALL[m];
                let r = b.transition(SignalId(1), to, Timestamp::EPOCH);
                prop_assert_eq!(r.is_ok(), state.can_go_to(to));
                if r.is_ok() { state = to; }
                prop_assert_eq!(b.get(SignalId(1)).unwrap().state, state);
            }
            for t in SignalState::ALL {
                if t.is_terminal() {
                    prop_assert!(SignalState::ALL.iter().all(|to| !t.can_go_to(*to)));
                }
            }
        }
    }
}
