//! The operations a test (or `/_fake/*`) performs on the fake, shared by `FakeAlpaca`'s
//! methods and the control routes.

use rust_decimal::Decimal;

use crate::faults::{Fault, FaultError, check_fraction};
use crate::orders::Side;
use crate::server::Shared;

impl Shared {
    /// The market moves one bar; open orders match. Returns the ticks so far.
    pub fn tick(&self) -> u64 {
        let mut inner = self.lock();
        let now = inner.clock.next();
        inner.book.tick(now);
        inner.book.market.ticks()
    }

    /// Queue a fault (a partial fill changes the market at once).
    pub fn fault(&self, f: Fault) -> Result<(), FaultError> {
        let mut inner = self.lock();
        match f {
            Fault::PartialFill { fraction } => {
                inner.book.set_partial(check_fraction(fraction)?);
                Ok(())
            }
            other => inner.faults.push(other),
        }
    }

    /// Drop every queued fault and go back to whole fills; how many faults were queued.
    pub fn clear_faults(&self) -> usize {
        let mut inner = self.lock();
        inner.book.set_partial(Decimal::ONE);
        inner.faults.clear()
    }

    /// Set a position behind the client's back (symbol upper-cased; qty 0 removes it).
    pub fn set_position(&self, symbol: &str, qty: Decimal, avg_entry_price: Decimal) {
        let mut inner = self.lock();
        inner.clock.next();
        inner
            .book
            .set_position(&symbol.trim().to_ascii_uppercase(), qty, avg_entry_price);
    }

    /// Place an open order nobody's client placed; its id.
    pub fn add_foreign_order(
        &self,
        symbol: &str,
        side: &str,
        qty: Decimal,
    ) -> Result<String, String> {
        let side = match side {
            "buy" => Side::Buy,
            "sell" => Side::Sell,
            other => {
                return Err(format!(
                    "a foreign order's side is buy or sell, got {other:?}"
                ));
            }
        };
        if qty <= Decimal::ZERO {
            return Err(format!("a foreign order's qty must be above 0, got {qty}"));
        }
        let mut inner = self.lock();
        let now = inner.clock.next();
        inner
            .book
            .add_foreign(&symbol.trim().to_ascii_uppercase(), side, qty, now)
            .map_err(|r| r.message)
    }
}
