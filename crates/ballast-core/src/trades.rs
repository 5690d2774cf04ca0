//! Round-trip trades, from fills: a trade opens when a position leaves flat and closes when it
//! returns to flat (or flips, which closes one trade and opens the next). The engine keeps the
//! most recent ones for the operator; a backtest keeps them all.

use std::collections::VecDeque;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::domain::{Fill, Symbol, SymbolMap};
use crate::limits::CLOSED_TRADES_KEPT_COUNT;
use crate::time::Timestamp;

/// One round trip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trade {
    pub symbol: Symbol,
    pub entry_time: Timestamp,
    /// Average entry price.
    pub entry_price: Decimal,
    /// `None` while the trade is still open.
    pub exit_time: Option<Timestamp>,
    pub exit_price: Option<Decimal>,
    /// Signed: positive long, negative short.
    pub qty: Decimal,
    /// Realized PnL net of the fees of its fills (`None` while open).
    pub pnl: Option<Decimal>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct OpenTrade {
    entry_time: Timestamp,
    entry_notional: Decimal,
    qty: Decimal,
    exit_notional: Decimal,
    exit_qty: Decimal,
    fees: Decimal,
    realized_at_entry: Decimal,
}

impl OpenTrade {
    fn trade(&self, symbol: Symbol) -> Trade {
        Trade {
            symbol,
            entry_time: self.entry_time,
            entry_price: if self.qty.is_zero() {
                Decimal::ZERO
            } else {
                (self.entry_notional / self.qty.abs()).normalize()
            },
            exit_time: None,
            exit_price: None,
            qty: self.qty,
            pnl: None,
        }
    }
}

/// A position's change through one fill, as the portfolio booked it.
#[derive(Debug, Clone, Copy)]
pub struct Booked {
    pub qty_before: Decimal,
    pub qty_after: Decimal,
    /// The position's realized PnL (before fees) before and after the fill.
    pub realized_before: Decimal,
    pub realized_after: Decimal,
}

/// Open trades by symbol and the most recent closed ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundTrips {
    open: SymbolMap<OpenTrade>,
    closed: VecDeque<Trade>,
    keep: usize,
    /// Trades closed so far (also those no longer kept).
    pub closed_count: u64,
}

impl Default for RoundTrips {
    fn default() -> Self {
        RoundTrips::keeping(CLOSED_TRADES_KEPT_COUNT)
    }
}

impl RoundTrips {
    /// Remember at most `keep` closed trades (the oldest go first).
    pub fn keeping(keep: usize) -> Self {
        RoundTrips {
            open: SymbolMap::default(),
            closed: VecDeque::new(),
            keep,
            closed_count: 0,
        }
    }

    /// Account for a fill; returns the net PnL of the trade it closed, if it closed one.
    pub fn on_fill(&mut self, fill: &Fill, b: Booked) -> Option<Decimal> {
        let price = fill.price.value();
        let signed = fill.signed_qty();
        let before = b.qty_before;
        // Split the fill into the part that closes and the part that opens.
        let closing = if before.is_zero() || before.is_sign_positive() == signed.is_sign_positive()
        {
            Decimal::ZERO
        } else {
            signed.abs().min(before.abs())
        };
        let opening = signed.abs() - closing;
        let fee_per_unit = if fill.qty.value().is_zero() {
            Decimal::ZERO
        } else {
            fill.fee.value() / fill.qty.value()
        };
        let mut closed_pnl = None;
        if !closing.is_zero() {
            if let Some(t) = self.open.get_mut(&fill.symbol) {
                t.exit_notional += closing * price;
                t.exit_qty += closing;
                t.fees += fee_per_unit * closing;
            }
            let after = b.qty_after;
            if after.is_zero() || after.is_sign_positive() != before.is_sign_positive() {
                if let Some(t) = self.open.remove(&fill.symbol) {
                    let pnl = b.realized_after - t.realized_at_entry - t.fees;
                    let mut trade = t.trade(fill.symbol);
                    trade.exit_time = Some(fill.ts);
                    if !t.exit_qty.is_zero() {
                        trade.exit_price = Some((t.exit_notional / t.exit_qty).normalize());
                    }
                    trade.pnl = Some(pnl.normalize());
                    self.push_closed(trade);
                    closed_pnl = Some(pnl);
                }
            }
        }
        if !opening.is_zero() {
            let t = self.open.entry(fill.symbol).or_insert_with(|| OpenTrade {
                entry_time: fill.ts,
                realized_at_entry: if closing.is_zero() {
                    b.realized_before
                } else {
                    b.realized_after
                },
                ..OpenTrade::default()
            });
            t.entry_notional += opening * price;
            t.qty += fill.side.sign() * opening;
            t.fees += fee_per_unit * opening;
        }
        closed_pnl
    }

    fn push_closed(&mut self, trade: Trade) {
        self.closed_count += 1;
        if self.keep == 0 {
            return;
        }
        if self.closed.len() >= self.keep {
            self.closed.pop_front();
        }
        self.closed.push_back(trade);
    }

    /// Open trades, by symbol.
    pub fn open(&self) -> Vec<Trade> {
        let mut v: Vec<Trade> = self.open.iter().map(|(s, t)| t.trade(*s)).collect();
        v.sort_by_key(|a| a.symbol);
        v
    }

    /// Everything, closed (oldest first) then open (by symbol), consuming the book.
    pub fn into_all(self) -> Vec<Trade> {
        let open = self.open();
        let mut all: Vec<Trade> = self.closed.into();
        all.extend(open);
        all
    }
}
