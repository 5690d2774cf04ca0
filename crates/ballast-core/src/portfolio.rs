//! Positions, cash, equity and exposure, from fills and marks. Aggregates are kept
//! incrementally, so reading equity or exposure is O(1) whatever the number of positions.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::domain::{Fill, Position, PositionError, Symbol, SymbolMap};

/// The account as Ballast books it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Portfolio {
    pub cash: Decimal,
    positions: SymbolMap<Position>,
    marks: SymbolMap<Decimal>,
    /// Σ qty · mark over positions (signed).
    net_value: Decimal,
    /// Σ |qty · mark| over positions.
    gross_value: Decimal,
    /// Fees paid so far.
    pub fees: Decimal,
}

impl Portfolio {
    pub fn new(cash: Decimal) -> Self {
        Portfolio {
            cash,
            ..Portfolio::default()
        }
    }

    /// Signed quantity held in `symbol`.
    pub fn qty(&self, symbol: &Symbol) -> Decimal {
        self.positions.get(symbol).map_or(Decimal::ZERO, |p| p.qty)
    }

    pub fn position(&self, symbol: &Symbol) -> Option<&Position> {
        self.positions.get(symbol)
    }

    pub fn positions(&self) -> impl Iterator<Item = &Position> {
        self.positions.values().filter(|p| !p.is_flat())
    }

    /// Every stored position with the symbol it is stored under, flat ones too (what the
    /// healer checks of a snapshot).
    pub fn stored(&self) -> impl Iterator<Item = (&Symbol, &Position)> {
        self.positions.iter()
    }

    /// Last mark of `symbol`.
    pub fn mark_of(&self, symbol: &Symbol) -> Option<Decimal> {
        self.marks.get(symbol).copied()
    }

    fn value_of(&self, symbol: &Symbol) -> Decimal {
        self.qty(symbol) * self.marks.get(symbol).copied().unwrap_or(Decimal::ZERO)
    }

    fn remove_value(&mut self, symbol: &Symbol) {
        let v = self.value_of(symbol);
        self.net_value -= v;
        self.gross_value -= v.abs();
    }

    fn add_value(&mut self, symbol: &Symbol) {
        let v = self.value_of(symbol);
        self.net_value += v;
        self.gross_value += v.abs();
    }

    /// Mark `symbol` at `price` (the last trade or close). Two hash lookups: this runs once
    /// per bar.
    pub fn mark(&mut self, symbol: &Symbol, price: Decimal) {
        let old = match self.marks.get_mut(symbol) {
            Some(m) => std::mem::replace(m, price),
            None => {
                self.marks.insert(*symbol, price);
                Decimal::ZERO
            }
        };
        let qty = self.qty(symbol);
        if !qty.is_zero() && price != old {
            // Marks are never negative, so |qty·price| − |qty·old| = ±(qty·price − qty·old):
            // one multiplication.
            let change = qty * (price - old);
            self.net_value += change;
            if qty.is_sign_positive() {
                self.gross_value += change;
            } else {
                self.gross_value -= change;
            }
        }
    }

    /// Book a fill: cash moves by the fill's notional and fee; the position changes; the
    /// symbol is marked at the fill price if it had no mark yet.
    pub fn apply_fill(&mut self, fill: &Fill) -> Result<(), PositionError> {
        self.remove_value(&fill.symbol);
        let pos = self
            .positions
            .entry(fill.symbol)
            .or_insert_with(|| Position::flat(fill.symbol));
        let result = pos.apply_fill(fill);
        if result.is_ok() {
            self.cash += fill.cash_delta();
            self.fees += fill.fee.value();
            self.marks.entry(fill.symbol).or_insert(fill.price.value());
        }
        self.add_value(&fill.symbol);
        result
    }

    /// Set the position in `symbol` to `qty` at average entry `avg_entry_price` (the operator
    /// adopted the broker's view: reconciliation). Cash does not move; realized PnL is kept;
    /// a symbol with no mark yet is marked at the entry price.
    pub fn set_position(&mut self, symbol: &Symbol, qty: Decimal, avg_entry_price: Decimal) {
        self.remove_value(symbol);
        let pos = self
            .positions
            .entry(*symbol)
            .or_insert_with(|| Position::flat(*symbol));
        pos.qty = qty;
        pos.avg_entry_price = if qty.is_zero() {
            Decimal::ZERO
        } else {
            avg_entry_price
        };
        if !qty.is_zero() && avg_entry_price > Decimal::ZERO {
            self.marks.entry(*symbol).or_insert(avg_entry_price);
        }
        self.add_value(symbol);
    }

    /// Cash plus the marked value of every position.
    pub fn equity(&self) -> Decimal {
        self.cash + self.net_value
    }

    /// Σ |position value|.
    pub fn gross_exposure(&self) -> Decimal {
        self.gross_value
    }

    /// Realized PnL over all symbols, before fees.
    pub fn realized_pnl(&self) -> Decimal {
        self.positions.values().map(|p| p.realized_pnl).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ClientOrderId, FillId, Notional, Price, Quantity, Side, SignalId};
    use crate::time::Timestamp;

    fn fill(sym: &str, side: Side, qty: i64, price: i64, fee: i64) -> Fill {
        Fill {
            fill_id: FillId::parse("f").unwrap(),
            client_order_id: ClientOrderId::for_signal(SignalId(1), 0),
            symbol: Symbol::new(sym).unwrap(),
            side,
            qty: Quantity::new(Decimal::from(qty)).unwrap(),
            price: Price::new(Decimal::from(price)).unwrap(),
            fee: Notional::new(Decimal::from(fee)).unwrap(),
            ts: Timestamp::EPOCH,
        }
    }

    #[test]
    fn equity_and_exposure_follow_fills_and_marks() {
        let mut p = Portfolio::new(Decimal::from(10_000));
        p.apply_fill(&fill("A", Side::Buy, 10, 100, 1)).unwrap();
        p.apply_fill(&fill("B", Side::Sell, 5, 200, 1)).unwrap();
        assert_eq!(p.cash, Decimal::from(10_000 - 1000 - 1 + 1000 - 1));
        assert_eq!(p.equity(), Decimal::from(9_998));
        assert_eq!(p.gross_exposure(), Decimal::from(2_000));
        p.mark(&Symbol::new("A").unwrap(), Decimal::from(110));
        p.mark(&Symbol::new("B").unwrap(), Decimal::from(190));
        assert_eq!(p.equity(), Decimal::from(9_998 + 100 + 50));
        assert_eq!(p.gross_exposure(), Decimal::from(1_100 + 950));
        p.apply_fill(&fill("A", Side::Sell, 10, 120, 0)).unwrap();
        assert_eq!(p.qty(&Symbol::new("A").unwrap()), Decimal::ZERO);
        assert_eq!(p.gross_exposure(), Decimal::from(950));
        assert_eq!(p.realized_pnl(), Decimal::from(200));
        assert_eq!(p.positions().count(), 1);
    }
}
