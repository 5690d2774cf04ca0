//! Strategies turn bars into target positions. Pure and deterministic.

mod sma_cross;

pub use sma_cross::SmaCross;

use rust_decimal::Decimal;

use crate::market::Bar;

/// What a strategy wants after a bar: a target signed position in the bar's symbol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub qty: Decimal,
    /// Why, for the decision tracker and logs (e.g. `sma_cross up`).
    pub reason: &'static str,
}

/// A strategy over one or more symbols.
pub trait Strategy {
    /// The strategy's name (for signals and reports).
    fn name(&self) -> &'static str;
    /// Observe a closed bar; return a new target position for its symbol, if any.
    fn on_bar(&mut self, bar: &Bar) -> Option<Target>;
}
