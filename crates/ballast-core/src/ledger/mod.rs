//! The ledger invariants (issue 15): what must hold of an engine journal and the state it
//! produced, whatever faults the run met — checked by the deterministic simulator after every
//! step, by `ballast chaos` after every scenario and by the soak. Pure: the caller reads the
//! journal and passes the records in.
//!
//! The invariants, each a [`Invariant`]:
//! - **positions = Σ booked fills** per symbol, and **cash = starting cash + Σ fills' cash**,
//!   from an independent book of the journal's facts (a fill is booked the first time its id
//!   appears, for an order whose intent came before it, up to the order's quantity; an
//!   operator's adopt or flatten sets the position to the broker's);
//! - **cash + positions = equity** at the last prices (the bars' closes);
//! - **every fill booked once**: the fills the state counts are the fills booked;
//! - **intent before send**: no `order.sent` / `order.settle` without the record that created
//!   the order (a decision, a kill switch's or policy's flatten, a liquidation step, an
//!   operator's flatten) earlier in the journal, and no order id created twice;
//! - **no record a halt forbids**: no new order decided while trading is HALTED (kill switch,
//!   EMERGENCY_SHUTDOWN, a reconciliation latch), no order adding to a position while
//!   REDUCING, no signal's or liquidation's order sent and no liquidation step placed while
//!   the kill switch is engaged;
//! - **a halt is left only by an operator**: leaving EMERGENCY_SHUTDOWN needs a release
//!   (`ballast resume`) the policy record counts;
//! - **unknown is not rejected**: a signal whose order's outcome was unknown ends FAILED or
//!   REJECTED only on the venue's word, and the venue rejections counted are the venue's;
//! - **replay reproduces the state**: folding the records from the initial state gives the
//!   state the run produced, figure for figure.
//!
//! Bounds: at most [`MAX_VIOLATIONS`] violations are listed (the rest are counted); the
//! records are the caller's (a journal reader's bound).

mod books;
mod halts;
mod replay;
pub use replay::differences;
#[cfg(test)]
mod tests;

use std::fmt;

use rust_decimal::Decimal;

use crate::engine::{EngineRecord, EngineState};
use crate::guard::Limits;

pub use books::Books;

/// Violations listed at most; more are counted in [`Report::left_off`].
pub const MAX_VIOLATIONS: usize = 100;

/// Which invariant a violation breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Invariant {
    PositionsAreFills,
    CashIsFills,
    EquityIsCashPlusPositions,
    FillBookedOnce,
    IntentBeforeSend,
    HaltForbids,
    HaltLeftByOperator,
    UnknownNotRejected,
    ReplayReproduces,
}

impl Invariant {
    /// Its name in reports (stable: the chaos report's JSON carries it).
    pub fn name(self) -> &'static str {
        match self {
            Invariant::PositionsAreFills => "positions_are_fills",
            Invariant::CashIsFills => "cash_is_fills",
            Invariant::EquityIsCashPlusPositions => "equity_is_cash_plus_positions",
            Invariant::FillBookedOnce => "fill_booked_once",
            Invariant::IntentBeforeSend => "intent_before_send",
            Invariant::HaltForbids => "halt_forbids",
            Invariant::HaltLeftByOperator => "halt_left_by_operator",
            Invariant::UnknownNotRejected => "unknown_not_rejected",
            Invariant::ReplayReproduces => "replay_reproduces",
        }
    }
}

/// One broken invariant: which, at which record (if one), and what was seen, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub invariant: Invariant,
    /// The journal seq of the record that broke it (none: the final state does).
    pub seq: Option<u64>,
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.seq {
            Some(seq) => write!(f, "{} at seq {seq}: {}", self.invariant.name(), self.detail),
            None => write!(f, "{}: {}", self.invariant.name(), self.detail),
        }
    }
}

/// What the checker is given.
pub struct Input<'a> {
    /// The engine journal's records from its first, in order, each with its seq.
    pub records: &'a [(u64, EngineRecord)],
    /// The state the journal starts from (`EngineState::new(&config)`).
    pub initial: &'a EngineState,
    /// The configured guard limits (the journaled settings' once in force).
    pub limits: &'a Limits,
    /// The state the run produced (the engine's own, or its snapshot) and the last seq it
    /// covers; `None`: the replay's state is checked alone.
    pub produced: Option<(&'a EngineState, u64)>,
}

/// The checker's verdict.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub violations: Vec<Violation>,
    /// Violations beyond [`MAX_VIOLATIONS`], not listed.
    pub left_off: usize,
    /// Records checked (those up to the produced state's seq).
    pub records: usize,
    /// Fills the independent book booked.
    pub fills_booked: u64,
}

impl Report {
    pub fn is_clean(&self) -> bool {
        self.violations.is_empty()
    }

    pub(crate) fn push(&mut self, invariant: Invariant, seq: Option<u64>, detail: String) {
        if self.violations.len() < MAX_VIOLATIONS {
            self.violations.push(Violation {
                invariant,
                seq,
                detail,
            });
        } else {
            self.left_off += 1;
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_clean() {
            return write!(
                f,
                "the ledger invariants hold over {} records ({} fills booked)",
                self.records, self.fills_booked
            );
        }
        writeln!(
            f,
            "{} ledger invariant violation(s) over {} records:",
            self.violations.len() + self.left_off,
            self.records
        )?;
        for v in &self.violations {
            writeln!(f, "- {v}")?;
        }
        if self.left_off > 0 {
            writeln!(f, "- and {} more, not listed", self.left_off)?;
        }
        Ok(())
    }
}

/// Check every invariant over `input`: the records up to the produced state's seq (all
/// without one) are replayed from the initial state and booked independently; each record is
/// checked against the state before it; the final figures against the produced state (or the
/// replay's).
pub fn check(input: &Input<'_>) -> Report {
    let through = input.produced.map_or(u64::MAX, |(_, seq)| seq);
    let mut checker = Checker::new(input.initial, input.limits);
    for (seq, record) in input.records.iter().filter(|(seq, _)| *seq <= through) {
        checker.record(*seq, record);
    }
    match input.produced {
        Some((produced, _)) => checker.verify(produced),
        None => checker.verify_replay(),
    }
}

/// The checker as a fold, for a caller that checks after every step (the simulator): feed
/// it each record once durable ([`Checker::record`]), ask it about the state at any point
/// ([`Checker::verify`]). Its cost per record is the record's; per verify, the state's size.
#[derive(Debug, Clone)]
pub struct Checker {
    limits: Limits,
    replayed: EngineState,
    books: Books,
    report: Report,
    replay_ok: bool,
    last_seq: u64,
}

impl Checker {
    /// A checker of a journal that starts from `initial`.
    pub fn new(initial: &EngineState, limits: &Limits) -> Checker {
        Checker {
            limits: limits.clone(),
            replayed: initial.clone(),
            books: Books::new(initial),
            report: Report::default(),
            replay_ok: true,
            last_seq: 0,
        }
    }

    /// The seq of the last record fed.
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// The state the records fed so far replay to (the initial state's fold).
    pub fn replayed(&self) -> &EngineState {
        &self.replayed
    }

    /// Whether the replay applied every record fed so far.
    pub fn replay_ok(&self) -> bool {
        self.replay_ok
    }

    /// Feed the next durable record: judged against the state before it, booked, replayed.
    pub fn record(&mut self, seq: u64, record: &EngineRecord) {
        self.last_seq = seq;
        self.report.records += 1;
        halts::check_record(&self.replayed, seq, record, &mut self.report);
        self.books
            .apply(&self.replayed, seq, record, &mut self.report);
        if self.replay_ok {
            if let Err(e) = self.replayed.apply(record, &self.limits) {
                self.report.push(
                    Invariant::ReplayReproduces,
                    Some(seq),
                    format!(
                        "the record ({}) does not apply to the state before it: {e}; the replay stops here",
                        record.kind()
                    ),
                );
                self.replay_ok = false;
            }
        }
    }

    /// The report of the records fed so far and of `produced`, the state the run holds now
    /// (replay equality, then the figures).
    pub fn verify(&self, produced: &EngineState) -> Report {
        let mut report = self.report.clone();
        if self.replay_ok && produced != &self.replayed {
            report.push(
                Invariant::ReplayReproduces,
                None,
                format!(
                    "replaying the journal through seq {} does not give the state the run produced: {}",
                    self.last_seq,
                    replay::differences(produced, &self.replayed)
                ),
            );
        }
        self.books.check_state(produced, &mut report);
        report.fills_booked = self.books.booked();
        report
    }

    /// The report of the records fed so far, the figures checked on the replay's state.
    pub fn verify_replay(&self) -> Report {
        let mut report = self.report.clone();
        self.books.check_state(&self.replayed, &mut report);
        report.fills_booked = self.books.booked();
        report
    }
}

/// `a` and `b` as figures in words (`12.50` not `Decimal(..)`).
pub(crate) fn pair(a: Decimal, b: Decimal) -> String {
    format!("{} vs {}", a.normalize(), b.normalize())
}
