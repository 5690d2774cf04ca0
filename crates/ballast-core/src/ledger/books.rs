//! The checker's own book of a journal: fills booked, positions, cash and marks, built from
//! the records' facts alone (not from the engine's state), and the orders the journal created
//! — what the engine's state is compared with.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use rust_decimal::Decimal;

use super::{Invariant, Report, pair};
use crate::broker::VenueStatus;
use crate::domain::{ClientOrderId, Fill, FillId, Order, Symbol};
use crate::engine::{EngineRecord, EngineState, LiquidationAction};
use crate::reconcile::{Choice, FindingKind};
use crate::signal::SignalState;

/// An order the journal created.
#[derive(Debug, Clone)]
struct Created {
    qty: Decimal,
    filled: Decimal,
    /// The signal it is for (a decision's order).
    signal: Option<u64>,
    /// Still able to fill (not rejected, not settled terminal, not forgotten).
    open: bool,
    /// A send of it had no answer.
    unknown_seen: bool,
    /// The venue said it refused it.
    venue_rejected: bool,
}

/// The independent book.
#[derive(Debug, Clone)]
pub struct Books {
    cash: Decimal,
    qty: BTreeMap<Symbol, Decimal>,
    marks: BTreeMap<Symbol, Decimal>,
    fill_ids: HashSet<FillId>,
    orders: BTreeMap<ClientOrderId, Created>,
    booked: u64,
    venue_rejections: u64,
    /// Symbols an operator's choice set (their position is the broker's from then on).
    adopted: BTreeSet<Symbol>,
}

impl Books {
    /// A book starting where `initial` starts (its cash; a fresh state has no positions).
    pub fn new(initial: &EngineState) -> Books {
        let mut qty = BTreeMap::new();
        let mut marks = BTreeMap::new();
        for (symbol, p) in initial.portfolio.stored() {
            qty.insert(*symbol, p.qty);
            if let Some(m) = initial.portfolio.mark_of(symbol) {
                marks.insert(*symbol, m);
            }
        }
        Books {
            cash: initial.portfolio.cash,
            qty,
            marks,
            fill_ids: HashSet::new(),
            orders: BTreeMap::new(),
            booked: 0,
            venue_rejections: 0,
            adopted: BTreeSet::new(),
        }
    }

    /// Fills booked so far.
    pub fn booked(&self) -> u64 {
        self.booked
    }

    /// Book `record` (seq `seq`); `before` is the state before it (what an operator's choice
    /// was about).
    pub fn apply(
        &mut self,
        before: &EngineState,
        seq: u64,
        record: &EngineRecord,
        report: &mut Report,
    ) {
        match record {
            EngineRecord::Bar(r) => {
                self.book(&r.fills);
                self.marks.insert(r.bar.symbol, r.bar.close);
            }
            EngineRecord::VenueFills(r) => self.book(&r.fills),
            EngineRecord::Decision(d) => {
                if let Some(o) = &d.order {
                    self.create(o, Some(d.signal), seq, report);
                }
            }
            EngineRecord::KillSwitch(r) => self.create_all(&r.orders, seq, report),
            EngineRecord::Policy(r) => self.create_all(&r.orders, seq, report),
            EngineRecord::Liquidation(r) => {
                for a in &r.actions {
                    if let LiquidationAction::Place { order, .. } = a {
                        self.create(order, None, seq, report);
                    }
                }
            }
            EngineRecord::Resolve(r) => {
                self.resolve(before, r);
                self.create_all(&r.orders, seq, report);
            }
            EngineRecord::Sent(r) => {
                let Some(o) = self.known(&r.client_order_id, seq, "order.sent", report) else {
                    return;
                };
                match &r.outcome {
                    crate::engine::SendOutcome::Accepted => {}
                    crate::engine::SendOutcome::Unknown { .. } => o.unknown_seen = true,
                    crate::engine::SendOutcome::Rejected { .. } => {
                        o.venue_rejected = true;
                        if o.open {
                            o.open = false;
                            self.venue_rejections += 1;
                        }
                    }
                }
            }
            EngineRecord::Settle(r) => {
                let _ = self.known(&r.client_order_id, seq, "order.settle", report);
            }
            EngineRecord::VenueOrder(r) => self.venue_order(&r.settle),
            _ => {}
        }
    }

    fn create_all(&mut self, orders: &[Order], seq: u64, report: &mut Report) {
        for o in orders {
            self.create(o, None, seq, report);
        }
    }

    fn create(&mut self, o: &Order, signal: Option<u64>, seq: u64, report: &mut Report) {
        if self.orders.contains_key(&o.client_order_id) {
            report.push(
                Invariant::IntentBeforeSend,
                Some(seq),
                format!(
                    "order {} is created a second time (a client_order_id is single-use: the venue would take the second for the first)",
                    o.client_order_id.as_str()
                ),
            );
            return;
        }
        self.orders.insert(
            o.client_order_id.clone(),
            Created {
                qty: o.qty.value(),
                filled: Decimal::ZERO,
                signal,
                open: true,
                unknown_seen: false,
                venue_rejected: false,
            },
        );
    }

    /// The order `id` a send or lookup names, or the violation: no intent before it.
    fn known(
        &mut self,
        id: &ClientOrderId,
        seq: u64,
        what: &str,
        report: &mut Report,
    ) -> Option<&mut Created> {
        if !self.orders.contains_key(id) {
            report.push(
                Invariant::IntentBeforeSend,
                Some(seq),
                format!(
                    "{what} for order {} with no intent journaled before it (no decision, flatten, liquidation or operator's choice created it)",
                    id.as_str()
                ),
            );
        }
        self.orders.get_mut(id)
    }

    /// Book fills as the journal's facts say: once per fill id, for an order created before,
    /// up to its quantity.
    fn book(&mut self, fills: &[Fill]) {
        for f in fills {
            if self.fill_ids.contains(&f.fill_id) {
                continue;
            }
            let Some(o) = self.orders.get_mut(&f.client_order_id).filter(|o| o.open) else {
                continue;
            };
            if f.qty.value() > o.qty - o.filled {
                continue;
            }
            o.filled += f.qty.value();
            if o.filled >= o.qty {
                o.open = false;
            }
            self.fill_ids.insert(f.fill_id.clone());
            self.booked += 1;
            *self.qty.entry(f.symbol).or_default() += f.signed_qty();
            self.cash += f.cash_delta();
            self.marks.entry(f.symbol).or_insert(f.price.value());
        }
    }

    fn venue_order(&mut self, s: &crate::reconcile::VenueSettle) {
        let terminal = matches!(
            s.status,
            VenueStatus::Filled
                | VenueStatus::Canceled
                | VenueStatus::Replaced
                | VenueStatus::Expired
                | VenueStatus::Rejected
        );
        let Some(o) = self.orders.get_mut(&s.client_order_id) else {
            return;
        };
        if !terminal || !o.open {
            return;
        }
        o.open = false;
        if s.status == VenueStatus::Rejected {
            o.venue_rejected = true;
            self.venue_rejections += 1;
        }
    }

    /// An operator's choice about an open finding: adopt or flatten sets the position to the
    /// broker's (cash does not move); adopting a partial fill takes the venue's filled
    /// quantity; adopting a missing order forgets it.
    fn resolve(&mut self, before: &EngineState, r: &crate::engine::ResolveRecord) {
        let Some(f) = before.open_findings().iter().find(|f| f.id == r.finding) else {
            return;
        };
        let position = matches!(
            (r.choice, f.kind),
            (
                Choice::Adopt,
                FindingKind::QuantityMismatch | FindingKind::UnknownPosition
            ) | (Choice::Flatten, _)
        );
        match (r.choice, f.kind) {
            _ if position => {
                if let (Some(symbol), Some(after)) = (f.symbol, r.after) {
                    self.qty.insert(symbol, after);
                    self.adopted.insert(symbol);
                    let avg = f.venue_avg_price.unwrap_or_default();
                    if !after.is_zero() && avg > Decimal::ZERO {
                        self.marks.entry(symbol).or_insert(avg);
                    }
                }
            }
            (Choice::Adopt, FindingKind::UnresolvedPartialFill) => {
                let id = f.client_order_id.as_ref();
                if let (Some(o), Some(filled)) =
                    (id.and_then(|id| self.orders.get_mut(id)), f.venue_qty)
                {
                    o.filled = filled;
                    o.open &= filled < o.qty;
                }
            }
            (Choice::Adopt, FindingKind::MissingOrder) => {
                if let Some(o) = f
                    .client_order_id
                    .as_ref()
                    .and_then(|id| self.orders.get_mut(id))
                {
                    o.open = false;
                }
            }
            _ => {}
        }
    }

    /// The final figures against `state`.
    pub fn check_state(&self, state: &EngineState, report: &mut Report) {
        self.check_positions(state, report);
        let p = &state.portfolio;
        if p.cash != self.cash {
            report.push(
                Invariant::CashIsFills,
                None,
                format!(
                    "cash is {} but the starting cash plus the booked fills' cash (fees included) is {} ({})",
                    p.cash.normalize(),
                    self.cash.normalize(),
                    pair(p.cash, self.cash)
                ),
            );
        }
        let marked: Decimal = self
            .qty
            .iter()
            .map(|(s, q)| *q * self.marks.get(s).copied().unwrap_or_default())
            .sum();
        let own: Decimal = p
            .stored()
            .map(|(s, pos)| pos.qty * p.mark_of(s).unwrap_or_default())
            .sum();
        for (what, expected) in [
            (
                "the booked cash plus the booked positions at the last prices",
                self.cash + marked,
            ),
            (
                "the state's own cash plus its positions at its marks",
                p.cash + own,
            ),
        ] {
            if p.equity() != expected {
                report.push(
                    Invariant::EquityIsCashPlusPositions,
                    None,
                    format!(
                        "equity is {} but {what} is {}",
                        p.equity().normalize(),
                        expected.normalize()
                    ),
                );
            }
        }
        if state.stats.fills != self.booked {
            report.push(
                Invariant::FillBookedOnce,
                None,
                format!(
                    "the state counts {} fills booked but the journal has {} distinct fills to book (each fill id once, for an order created before it, up to its quantity)",
                    state.stats.fills, self.booked
                ),
            );
        }
        self.check_unknown(state, report);
    }

    fn check_positions(&self, state: &EngineState, report: &mut Report) {
        let symbols: BTreeSet<Symbol> = self
            .qty
            .keys()
            .copied()
            .chain(state.portfolio.stored().map(|(s, _)| *s))
            .collect();
        for s in symbols {
            let have = state.portfolio.qty(&s);
            let booked = self.qty.get(&s).copied().unwrap_or_default();
            if have != booked {
                let adopted = if self.adopted.contains(&s) {
                    " (since the operator's choice set it to the broker's)"
                } else {
                    ""
                };
                report.push(
                    Invariant::PositionsAreFills,
                    None,
                    format!(
                        "the position in {s} is {} but the fills booked add up to {}{adopted}",
                        have.normalize(),
                        booked.normalize()
                    ),
                );
            }
        }
    }

    /// Unknown outcomes: a signal whose order had no answer never ends FAILED or REJECTED
    /// without the venue's word, and the rejections counted are the venue's.
    fn check_unknown(&self, state: &EngineState, report: &mut Report) {
        for (id, o) in &self.orders {
            let Some(signal) = o.signal else { continue };
            if !o.unknown_seen || o.venue_rejected {
                continue;
            }
            let ended = state
                .signals
                .get(crate::domain::SignalId(signal))
                .map(|s| s.state);
            if matches!(ended, Some(SignalState::Failed | SignalState::Rejected)) {
                report.push(
                    Invariant::UnknownNotRejected,
                    None,
                    format!(
                        "signal {signal} is {} but its order {} had an unknown outcome and the venue never refused it",
                        ended.map_or("?", |s| s.name()),
                        id.as_str()
                    ),
                );
            }
        }
        if state.stats.venue_rejections != self.venue_rejections {
            report.push(
                Invariant::UnknownNotRejected,
                None,
                format!(
                    "the state counts {} venue rejections but the venue refused {} orders in the journal",
                    state.stats.venue_rejections, self.venue_rejections
                ),
            );
        }
    }
}
