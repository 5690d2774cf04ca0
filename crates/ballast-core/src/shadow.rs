//! The shadow execution engine: every signal — approved or rejected — is simulated as if it
//! had been executed (entry at the last price when it was decided; exit on the strategy's next
//! opposite or flat signal for the symbol, or after a horizon of the symbol's bars). Comparing
//! the approved and rejected sides shows what the guard's rejections cost or saved. Pure and
//! bounded.

use std::collections::{BTreeMap, VecDeque};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::domain::{Side, Symbol};
use crate::limits::{SHADOW_CLOSED_KEPT_COUNT, SHADOW_HORIZON_BARS, SHADOW_MAX_OPEN_COUNT};
use crate::market::Bar;
use crate::time::Timestamp;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShadowTrade {
    pub signal: u64,
    pub symbol: Symbol,
    pub side: Side,
    pub qty: Decimal,
    pub approved: bool,
    pub entry_price: Decimal,
    pub entry_at: Timestamp,
    pub bars_held: u64,
    pub last_price: Decimal,
    pub exit: Option<(Decimal, Timestamp)>,
    pub pnl: Option<Decimal>,
}

/// Totals over closed shadow trades.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShadowTotals {
    pub approved_trades: u64,
    pub approved_pnl: Decimal,
    pub rejected_trades: u64,
    /// What the rejected signals would have made: positive = the rejections cost this much,
    /// negative = they saved it.
    pub rejected_pnl: Decimal,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shadow {
    open: BTreeMap<u64, ShadowTrade>,
    closed: VecDeque<ShadowTrade>,
    pub totals: ShadowTotals,
}

impl Shadow {
    fn close(&mut self, id: u64, price: Decimal, at: Timestamp) {
        let Some(mut t) = self.open.remove(&id) else {
            return;
        };
        let pnl = (price - t.entry_price) * t.qty * t.side.sign();
        t.exit = Some((price, at));
        t.pnl = Some(pnl);
        if t.approved {
            self.totals.approved_trades += 1;
            self.totals.approved_pnl += pnl;
        } else {
            self.totals.rejected_trades += 1;
            self.totals.rejected_pnl += pnl;
        }
        self.closed.push_back(t);
        if self.closed.len() > SHADOW_CLOSED_KEPT_COUNT {
            self.closed.pop_front();
        }
    }

    /// A signal was decided at `price`. An opposite (or flattening) signal first closes the
    /// symbol's open shadow trades on the other side: that is the strategy's exit.
    #[allow(clippy::too_many_arguments)]
    pub fn on_signal(
        &mut self,
        signal: u64,
        symbol: &Symbol,
        side: Side,
        qty: Decimal,
        price: Decimal,
        approved: bool,
        at: Timestamp,
    ) {
        let exits: Vec<u64> = self
            .open
            .values()
            .filter(|t| &t.symbol == symbol && t.side != side)
            .map(|t| t.signal)
            .collect();
        for id in exits {
            self.close(id, price, at);
        }
        if qty <= Decimal::ZERO || price <= Decimal::ZERO {
            return;
        }
        if self.open.len() >= SHADOW_MAX_OPEN_COUNT {
            if let Some((&oldest, t)) = self.open.iter().next() {
                let (p, a) = (t.last_price, at);
                self.close(oldest, p, a);
            }
        }
        self.open.insert(
            signal,
            ShadowTrade {
                signal,
                symbol: *symbol,
                side,
                qty,
                approved,
                entry_price: price,
                entry_at: at,
                bars_held: 0,
                last_price: price,
                exit: None,
                pnl: None,
            },
        );
    }

    /// A bar: trades in its symbol age; those past the horizon close at the close.
    pub fn on_bar(&mut self, bar: &Bar) {
        let mut due = Vec::new();
        for t in self.open.values_mut().filter(|t| t.symbol == bar.symbol) {
            t.bars_held += 1;
            t.last_price = bar.close;
            if t.bars_held >= SHADOW_HORIZON_BARS {
                due.push(t.signal);
            }
        }
        for id in due {
            self.close(id, bar.close, bar.ts);
        }
    }

    pub fn open_count(&self) -> usize {
        self.open.len()
    }

    /// Newest first.
    pub fn recent_closed(&self) -> impl Iterator<Item = &ShadowTrade> {
        self.closed.iter().rev()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(close: i64, n: i64) -> Bar {
        let c = Decimal::from(close);
        Bar {
            symbol: Symbol::new("A").unwrap(),
            ts: Timestamp::from_unix_ms(n),
            open: c,
            high: c,
            low: c,
            close: c,
            volume: Decimal::ONE,
        }
    }

    #[test]
    fn rejected_signals_report_what_they_would_have_made() {
        let a = Symbol::new("A").unwrap();
        let mut s = Shadow::default();
        s.on_signal(
            1,
            &a,
            Side::Buy,
            Decimal::TEN,
            Decimal::from(100),
            false,
            Timestamp::EPOCH,
        );
        s.on_bar(&bar(105, 1));
        // The strategy's exit: a sell signal closes the rejected long at 110.
        s.on_signal(
            2,
            &a,
            Side::Sell,
            Decimal::ZERO,
            Decimal::from(110),
            true,
            Timestamp::from_unix_ms(2),
        );
        assert_eq!(s.totals.rejected_trades, 1);
        assert_eq!(
            s.totals.rejected_pnl,
            Decimal::from(100),
            "the rejection cost 100"
        );
        // An approved trade closes at the horizon.
        s.on_signal(
            3,
            &a,
            Side::Buy,
            Decimal::ONE,
            Decimal::from(110),
            true,
            Timestamp::from_unix_ms(3),
        );
        for n in 0..SHADOW_HORIZON_BARS as i64 {
            s.on_bar(&bar(100, 10 + n));
        }
        assert_eq!(s.totals.approved_trades, 1);
        assert_eq!(s.totals.approved_pnl, Decimal::from(-10));
        assert_eq!(s.open_count(), 0);
        assert_eq!(s.recent_closed().count(), 2);
    }
}
