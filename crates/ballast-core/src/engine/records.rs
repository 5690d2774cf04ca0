//! The engine's journal records and counters.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::domain::{Fill, Order, Side, Symbol};
use crate::guard::Verdict;
use crate::market::Bar;
use crate::time::Timestamp;

/// `market.bar`: a bar and the paper broker's fills on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BarRecord {
    pub bar: Bar,
    pub fills: Vec<Fill>,
}

/// `engine.decision`: what was decided for a pending target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionRecord {
    pub signal: u64,
    pub symbol: Symbol,
    pub target_qty: Decimal,
    pub reason: String,
    pub at: Timestamp,
    pub side: Side,
    pub candidate_qty: Decimal,
    pub verdict: Verdict,
    /// The order intent, journaled before it is handed to the broker.
    pub order: Option<Order>,
}

/// Pipeline counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub targets: u64,
    pub signals: u64,
    pub orders: u64,
    pub fills: u64,
    pub rejections: BTreeMap<String, u64>,
    pub resized: BTreeMap<String, u64>,
    pub duplicate_fills: u64,
    pub overfills_refused: u64,
    pub unknown_fills: u64,
}
