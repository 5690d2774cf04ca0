use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{Fill, Symbol};

/// A position in one symbol. `qty` is signed: positive long, negative short, zero flat.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub symbol: Symbol,
    pub qty: Decimal,
    /// Average entry price of the open quantity; zero when flat.
    pub avg_entry_price: Decimal,
    /// Realized PnL booked on this symbol, before fees.
    pub realized_pnl: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PositionError {
    #[error("fill for {fill} cannot be booked on the position in {position}")]
    WrongSymbol { fill: Symbol, position: Symbol },
}

impl Position {
    pub fn flat(symbol: Symbol) -> Self {
        Position {
            symbol,
            qty: Decimal::ZERO,
            avg_entry_price: Decimal::ZERO,
            realized_pnl: Decimal::ZERO,
        }
    }

    pub fn is_flat(&self) -> bool {
        self.qty.is_zero()
    }

    /// Book a fill: extending keeps a quantity-weighted average entry; reducing realizes PnL
    /// at the average entry; crossing through zero realizes the closed part and opens the rest
    /// at the fill price.
    pub fn apply_fill(&mut self, fill: &Fill) -> Result<(), PositionError> {
        if fill.symbol != self.symbol {
            return Err(PositionError::WrongSymbol {
                fill: fill.symbol,
                position: self.symbol,
            });
        }
        let delta = fill.signed_qty();
        let price = fill.price.value();
        let extending =
            self.qty.is_zero() || self.qty.is_sign_positive() == delta.is_sign_positive();
        if extending {
            let new_qty = self.qty + delta;
            self.avg_entry_price =
                (self.avg_entry_price * self.qty.abs() + price * delta.abs()) / new_qty.abs();
            self.qty = new_qty;
            return Ok(());
        }
        let closing = delta.abs().min(self.qty.abs());
        let direction = if self.qty.is_sign_positive() {
            Decimal::ONE
        } else {
            Decimal::NEGATIVE_ONE
        };
        self.realized_pnl += (price - self.avg_entry_price) * closing * direction;
        self.qty += delta;
        if self.qty.is_zero() {
            self.avg_entry_price = Decimal::ZERO;
        } else if self.qty.is_sign_positive() != direction.is_sign_positive() {
            // Crossed through zero: the remainder is a new position at the fill price.
            self.avg_entry_price = price;
        }
        Ok(())
    }

    /// Unrealized PnL at `mark`.
    pub fn unrealized_pnl(&self, mark: Decimal) -> Decimal {
        (mark - self.avg_entry_price) * self.qty
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ClientOrderId, FillId, Notional, Price, Quantity, Side, SignalId};
    use crate::time::Timestamp;
    use rust_decimal::prelude::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn fill(side: Side, qty: &str, price: &str) -> Fill {
        Fill {
            fill_id: FillId::parse("f1").unwrap(),
            client_order_id: ClientOrderId::for_signal(SignalId(1), 0),
            symbol: Symbol::new("AAPL").unwrap(),
            side,
            qty: Quantity::new(d(qty)).unwrap(),
            price: Price::new(d(price)).unwrap(),
            fee: Notional::ZERO,
            ts: Timestamp::EPOCH,
        }
    }

    #[test]
    fn extend_reduce_and_flip() {
        let mut p = Position::flat(Symbol::new("AAPL").unwrap());
        p.apply_fill(&fill(Side::Buy, "10", "100")).unwrap();
        p.apply_fill(&fill(Side::Buy, "10", "110")).unwrap();
        assert_eq!((p.qty, p.avg_entry_price), (d("20"), d("105")));
        p.apply_fill(&fill(Side::Sell, "5", "115")).unwrap();
        assert_eq!((p.qty, p.realized_pnl), (d("15"), d("50")));
        assert_eq!(p.unrealized_pnl(d("100")), d("-75"));
        p.apply_fill(&fill(Side::Sell, "20", "90")).unwrap();
        assert_eq!(p.qty, d("-5"));
        assert_eq!(p.avg_entry_price, d("90"));
        assert_eq!(p.realized_pnl, d("50") + d("-225"));
        p.apply_fill(&fill(Side::Buy, "5", "80")).unwrap();
        assert!(p.is_flat());
        assert_eq!(p.avg_entry_price, Decimal::ZERO);
        assert_eq!(p.realized_pnl, d("-175") + d("50"));
    }

    #[test]
    fn a_fill_for_another_symbol_is_refused() {
        let mut p = Position::flat(Symbol::new("IBM").unwrap());
        assert!(p.apply_fill(&fill(Side::Buy, "1", "1")).is_err());
        assert!(p.is_flat());
    }
}
