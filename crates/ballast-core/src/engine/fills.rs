//! The fills job: the memory of fill ids already booked (a fill is booked once, however often
//! the venue reports it) and booking a bar's fills into the orders, the portfolio, the trades,
//! the guard's memory of losing exits and the signals.

use std::collections::VecDeque;

use rust_decimal::Decimal;
use rustc_hash::FxHashSet;

use super::{ApplyError, EngineState, FILL_ID_MEMORY, Owner, SendState};
use crate::domain::{Fill, FillId};
use crate::guard::Limits;
use crate::signal::SignalState;
use crate::trades::Booked;

/// The fill ids booked, at most [`FILL_ID_MEMORY`] (the oldest forgotten first).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fills {
    pub(super) ids: FxHashSet<FillId>,
    /// Oldest first.
    pub(super) order: VecDeque<FillId>,
}

impl Fills {
    /// Whether this fill was booked already.
    pub fn seen(&self, id: &FillId) -> bool {
        self.ids.contains(id)
    }

    /// Remember a booked fill (forgetting the oldest beyond the bound).
    fn remember(&mut self, id: &FillId) {
        self.ids.insert(id.clone());
        self.order.push_back(id.clone());
        if self.order.len() > FILL_ID_MEMORY {
            if let Some(old) = self.order.pop_front() {
                self.ids.remove(&old);
            }
        }
    }
}

impl EngineState {
    /// Book the fills of a `market.bar` or `venue.fills` record: deduped by fill id, an
    /// unknown order's or an overfill counted and refused. On an external venue the embedded
    /// paper book is not touched.
    pub(super) fn book_fills(&mut self, fills: &[Fill], limits: &Limits) -> Result<(), ApplyError> {
        for fill in fills {
            if self.fills.seen(&fill.fill_id) {
                self.stats.duplicate_fills += 1;
                continue;
            }
            let Some(track) = self.orders.tracked.get(&fill.client_order_id) else {
                self.stats.unknown_fills += 1;
                continue;
            };
            let remaining = track.order.qty.value() - track.filled;
            if fill.qty.value() > remaining {
                self.stats.overfills_refused += 1;
                continue;
            }
            self.fills.remember(&fill.fill_id);
            if !self.external_venue() {
                self.broker.apply_fill(fill);
            }
            if !self.book_in_portfolio(fill, limits) {
                continue;
            }
            let Some(track) = self.orders.tracked.get_mut(&fill.client_order_id) else {
                continue;
            };
            track.filled += fill.qty.value();
            track.filled_value += fill.qty.value() * fill.price.value();
            // A fill proves the venue has the order.
            track.send = SendState::Accepted;
            let owner = track.owner;
            let done = track.filled >= track.order.qty.value();
            if done {
                self.orders.tracked.remove(&fill.client_order_id);
            }
            match owner {
                // A signal ended meanwhile (the healer expired it while the venue still had
                // its order, an external venue's cancel racing this fill): the fill is booked,
                // the signal stays as it ended.
                Owner::Signal(signal) if !self.signals.is_live(signal) => {}
                Owner::Signal(signal) => {
                    self.signals.add_fill(signal, fill.qty.value());
                    let to = if done {
                        SignalState::Filled
                    } else {
                        SignalState::PartiallyFilled
                    };
                    self.signals.transition(signal, to, fill.ts)?;
                }
                Owner::Liquidation(id) => self.liquidation_filled(id, fill.qty.value(), done),
                Owner::Reconcile if done => self.flatten_done(&fill.client_order_id, true),
                Owner::Reconcile | Owner::KillSwitch | Owner::Policy => {}
            }
        }
        Ok(())
    }

    /// The fill in the portfolio and the round trips; an exit (to flat or across it) in the
    /// guard's memory with the trade's result. `false`: the portfolio refused it (counted).
    fn book_in_portfolio(&mut self, fill: &Fill, limits: &Limits) -> bool {
        let before = self.portfolio.qty(&fill.symbol);
        let realized = |s: &Self| {
            s.portfolio
                .position(&fill.symbol)
                .map_or(Decimal::ZERO, |p| p.realized_pnl)
        };
        let realized_before = realized(self);
        // The fill is for this symbol's position by construction; a mismatch is counted.
        if self.portfolio.apply_fill(fill).is_err() {
            self.stats.unknown_fills += 1;
            return false;
        }
        self.stats.fills += 1;
        let after = self.portfolio.qty(&fill.symbol);
        let realized_after = realized(self);
        let closed = self.trips.on_fill(
            fill,
            Booked {
                qty_before: before,
                qty_after: after,
                realized_before,
                realized_after,
            },
        );
        if !before.is_zero()
            && (after.is_zero() || after.is_sign_positive() != before.is_sign_positive())
        {
            // The trade's result net of its fees (the gross change if the trade began before
            // this state kept trades).
            let net = closed.unwrap_or(realized_after - realized_before);
            self.guard.record_exit(net, fill.ts, limits);
        }
        true
    }
}
