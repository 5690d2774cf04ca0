//! Market data: bars and the CSV format they are replayed from.

pub mod csv;
pub mod fallback;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::domain::Symbol;
use crate::time::Timestamp;

/// One OHLCV bar. Prices are positive, `low ≤ open, close ≤ high`, volume non-negative
/// (checked where bars enter: [`csv::parse_row`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bar {
    pub symbol: Symbol,
    pub ts: Timestamp,
    pub open: Decimal,
    pub high: Decimal,
    pub low: Decimal,
    pub close: Decimal,
    pub volume: Decimal,
}
