//! The pipeline monitor and the decision tracker: what the dashboard and the healer read about
//! the signal pipeline. Pure functions of the engine's state.

use std::collections::{BTreeMap, VecDeque};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::guard::Verdict;
use crate::limits::DECISIONS_KEPT_COUNT;
use crate::signal::{SignalBook, SignalState};
use crate::time::Timestamp;

/// Counts per stage, backlog and health of the signal pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PipelineReport {
    /// Signals that ever entered each state.
    pub entered: BTreeMap<SignalState, u64>,
    /// Non-terminal signals now.
    pub in_flight: usize,
    pub oldest_in_flight_age_ms: Option<i64>,
    /// Signals stuck longer than `stuck_after` or older than `max_age`.
    pub stuck: usize,
    /// Rejected / (rejected + approved), in percent.
    pub rejection_rate_pct: Decimal,
    /// More than `max_stuck` stuck signals: CRITICAL, the healer expires them.
    pub critical: bool,
}

/// Build the report.
pub fn report(
    book: &SignalBook,
    now: Timestamp,
    stuck_after_ms: i64,
    max_age_ms: i64,
    max_stuck: usize,
) -> PipelineReport {
    let stuck = book.stale(now, stuck_after_ms, max_age_ms).len();
    let count = |s| book.entered.get(&s).copied().unwrap_or(0);
    let (rejected, approved) = (count(SignalState::Rejected), count(SignalState::Approved));
    let decided = rejected + approved;
    let rejection_rate_pct = if decided == 0 {
        Decimal::ZERO
    } else {
        (Decimal::from(rejected) * Decimal::ONE_HUNDRED / Decimal::from(decided)).round_dp(2)
    };
    PipelineReport {
        entered: book.entered.clone(),
        in_flight: book.live().count(),
        oldest_in_flight_age_ms: book.oldest_live_age_ms(now),
        stuck,
        rejection_rate_pct,
        critical: stuck > max_stuck,
    }
}

/// One guard verdict as the decision tracker keeps it: the deciding check, its limit and the
/// observed value (`max_notional_per_order: 2500 > 2000`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub signal: u64,
    pub at: Timestamp,
    pub symbol: String,
    /// The side of the order asked for (absent in decisions recorded by older versions).
    #[serde(default)]
    pub side: Option<crate::domain::Side>,
    pub outcome: String,
    pub check: Option<String>,
    pub limit: Option<Decimal>,
    pub observed: Option<Decimal>,
    pub requested_qty: Decimal,
    pub approved_qty: Option<Decimal>,
    /// Every reason, as text.
    pub reasons: Vec<String>,
}

/// The decision tracker: the last [`DECISIONS_KEPT_COUNT`] verdicts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionLog {
    recent: VecDeque<Decision>,
}

impl DecisionLog {
    pub fn record(
        &mut self,
        signal: u64,
        at: Timestamp,
        symbol: &str,
        side: crate::domain::Side,
        requested: Decimal,
        verdict: &Verdict,
    ) {
        let (outcome, reasons) = match verdict {
            Verdict::Approve => ("approved", &[][..]),
            Verdict::Resize { reasons, .. } => ("resized", &reasons[..]),
            Verdict::Reject { reasons } => ("rejected", &reasons[..]),
        };
        let first = reasons.first();
        self.recent.push_back(Decision {
            signal,
            at,
            symbol: symbol.to_owned(),
            side: Some(side),
            outcome: outcome.to_owned(),
            check: first.map(|r| r.check.name().to_owned()),
            limit: first.map(|r| r.limit),
            observed: first.map(|r| r.observed),
            requested_qty: requested,
            approved_qty: verdict.approved_qty(requested),
            reasons: reasons.iter().map(ToString::to_string).collect(),
        });
        if self.recent.len() > DECISIONS_KEPT_COUNT {
            self.recent.pop_front();
        }
    }

    /// Newest first.
    pub fn recent(&self) -> impl Iterator<Item = &Decision> {
        self.recent.iter().rev()
    }

    /// Newest first, only those decided by `check`.
    pub fn by_check<'a>(&'a self, check: &'a str) -> impl Iterator<Item = &'a Decision> {
        self.recent()
            .filter(move |d| d.check.as_deref() == Some(check))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{SignalId, Symbol};
    use crate::guard::{Check, Reason};
    use crate::signal::Signal;

    #[test]
    fn report_counts_stages_rates_and_stuck_signals() {
        let mut b = SignalBook::default();
        for i in 0..4u64 {
            b.add(Signal {
                id: SignalId(i),
                symbol: Symbol::new("A").unwrap(),
                target_qty: Decimal::ONE,
                reason: String::new(),
                strategy: String::new(),
                created_at: Timestamp::EPOCH,
                state: SignalState::New,
                since: Timestamp::EPOCH,
                filled_qty: Decimal::ZERO,
            });
            b.transition(SignalId(i), SignalState::Validated, Timestamp::EPOCH)
                .unwrap();
        }
        b.transition(SignalId(0), SignalState::Rejected, Timestamp::EPOCH)
            .unwrap();
        b.transition(SignalId(1), SignalState::Approved, Timestamp::EPOCH)
            .unwrap();
        let r = report(
            &b,
            Timestamp::from_unix_ms(4_000_000),
            3_600_000,
            7_200_000,
            2,
        );
        assert_eq!(r.in_flight, 3);
        assert_eq!(r.stuck, 3);
        assert!(r.critical);
        assert_eq!(r.rejection_rate_pct, Decimal::from(50));
        assert_eq!(r.entered[&SignalState::Validated], 4);
    }

    #[test]
    fn the_tracker_keeps_the_deciding_check_and_is_bounded() {
        let mut log = DecisionLog::default();
        let reject = Verdict::Reject {
            reasons: vec![Reason {
                check: Check::MaxNotionalPerOrder,
                observed: Decimal::from(2500),
                limit: Decimal::from(2000),
                detail: String::new(),
            }],
        };
        for i in 0..(DECISIONS_KEPT_COUNT as u64 + 5) {
            let v = if i % 2 == 0 {
                &reject
            } else {
                &Verdict::Approve
            };
            log.record(
                i,
                Timestamp::EPOCH,
                "AAPL",
                crate::domain::Side::Buy,
                Decimal::TEN,
                v,
            );
        }
        assert_eq!(log.recent().count(), DECISIONS_KEPT_COUNT);
        let d = log.by_check("max_notional_per_order").next().unwrap();
        assert_eq!(
            (d.limit, d.observed),
            (Some(Decimal::from(2000)), Some(Decimal::from(2500)))
        );
        assert_eq!(d.reasons[0], "max_notional_per_order: 2500 > 2000");
    }
}
