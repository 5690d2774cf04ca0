//! The decisions job: the targets and external signals waiting for a decision (oldest first,
//! at most [`super::MAX_PENDING`]), the inbox they come from (where reading resumes), the next
//! signal id and the decision log.

use std::collections::VecDeque;

use super::{LongLine, PendingTarget};
use crate::pipeline::DecisionLog;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decisions {
    /// Oldest first.
    pub pending: VecDeque<PendingTarget>,
    /// Bytes of `inbox/signals.jsonl` consumed, and lines.
    pub inbox_offset: u64,
    /// The inbox file (inode) `inbox_offset` is in; `None` before the first one was seen.
    pub inbox_file: Option<u64>,
    pub inbox_lines: u64,
    /// The over-long line being skipped (rejected, no end of line read yet).
    pub inbox_long_line: Option<LongLine>,
    pub next_signal: u64,
    /// The last seq of `journal/signals/` (HTTP signals) taken.
    pub signals_seq: u64,
    /// The decision tracker.
    pub log: DecisionLog,
}

impl Default for Decisions {
    fn default() -> Self {
        Decisions {
            pending: VecDeque::new(),
            inbox_offset: 0,
            inbox_file: None,
            inbox_lines: 0,
            inbox_long_line: None,
            next_signal: 1,
            signals_seq: 0,
            log: DecisionLog::default(),
        }
    }
}
