//! The trade guard (SPEC §3): a pure function
//! `(order, account, guard state, gate, limits, now) → Approve | Reject(reasons) | Resize`,
//! evaluated before every order. Every check is named and reports its limit and the observed
//! value, for the decision tracker.
//!
//! Rules Ballast insists on:
//! - in REDUCING only strict reductions pass: from flat, growing |position| or flipping the
//!   sign is rejected;
//! - a reduce-only order (strictly reduces |position| without flipping) always passes the
//!   exposure checks (sizes, exposure, concentration, buying power, loss protections);
//! - the verdict is O(1) in the number of positions: the caller passes aggregates.

mod evaluate;
mod state;
mod verdict;

#[cfg(test)]
mod tests;

pub use evaluate::evaluate;
pub use state::GuardState;
pub use verdict::{Check, Reason, Verdict};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::domain::{Side, Symbol};

/// The trading state the safety policy and kill switch put the guard in. Persisted by the
/// engine, so a restart never re-arms trading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TradingState {
    #[default]
    Active,
    /// Only orders that strictly reduce |position|.
    Reducing,
    /// No orders (cancels are not orders).
    Halted,
}

/// What the policy layer says about trading right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gate {
    pub trading_state: TradingState,
    /// Size multiplier of the safety policy (1 normally, 0.5 in SAFE_RISK_PROFILE).
    pub size_multiplier: Decimal,
    pub kill_switch: bool,
    /// `Some(why)` when the mode forbids orders (e.g. live not armed).
    pub mode_refusal: Option<String>,
}

impl Default for Gate {
    fn default() -> Self {
        Gate {
            trading_state: TradingState::Active,
            size_multiplier: Decimal::ONE,
            kill_switch: false,
            mode_refusal: None,
        }
    }
}

/// The limits, from `[guard]` (percentages as percent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub max_position_notional: Decimal,
    pub max_notional_per_order: Decimal,
    pub max_portfolio_exposure_pct: Decimal,
    pub max_concentration_pct: Decimal,
    pub max_price_deviation_pct: Decimal,
    pub min_cooldown_ms: i64,
    /// New exposure in a symbol waits this many of its bars after its last trade.
    pub min_cooldown_bars: u32,
    pub max_open_orders: u32,
    pub max_orders_per_second: u32,
    pub max_orders_per_minute: u32,
    pub allow_direction_flip: bool,
    pub duplicate_window_ms: i64,
    pub daily_loss_limit_pct: Decimal,
    pub max_drawdown_pct: Decimal,
    pub stop_loss_streak: u32,
    pub stop_loss_window_ms: i64,
    pub stop_loss_cooldown_ms: i64,
}

impl From<&Config> for Limits {
    fn from(c: &Config) -> Self {
        crate::engine::EngineSettings::of(c).limits()
    }
}

/// An order as the guard sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub symbol: Symbol,
    pub side: Side,
    pub qty: Decimal,
    pub limit_price: Option<Decimal>,
    pub idempotency_key: Option<String>,
}

/// The account as the guard needs it: aggregates, so a verdict is O(1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Signed position in the candidate's symbol.
    pub position_qty: Decimal,
    /// Last trade (or close) of the candidate's symbol.
    pub last_price: Option<Decimal>,
    pub equity: Decimal,
    /// Σ |position value| over all symbols.
    pub gross_exposure: Decimal,
    pub cash: Decimal,
    /// Orders open at the venue.
    pub open_orders: u32,
    /// Cash reserved by open orders that add exposure.
    pub reserved_cash: Decimal,
    pub start_of_day_equity: Decimal,
    pub high_water_mark: Decimal,
}

impl Account {
    /// The guard's view of `portfolio` for an order in `symbol`: O(1) (a lookup and the
    /// portfolio's running aggregates).
    pub fn from_portfolio(
        portfolio: &crate::portfolio::Portfolio,
        symbol: &Symbol,
        open_orders: u32,
        reserved_cash: Decimal,
        start_of_day_equity: Decimal,
        high_water_mark: Decimal,
    ) -> Self {
        Account {
            position_qty: portfolio.qty(symbol),
            last_price: portfolio.mark_of(symbol),
            equity: portfolio.equity(),
            gross_exposure: portfolio.gross_exposure(),
            cash: portfolio.cash,
            open_orders,
            reserved_cash,
            start_of_day_equity,
            high_water_mark,
        }
    }
}

impl Candidate {
    /// Does this order strictly reduce |position| without flipping it?
    pub fn is_reduce_only(&self, position_qty: Decimal) -> bool {
        !position_qty.is_zero()
            && (self.side == Side::Sell) == position_qty.is_sign_positive()
            && self.qty > Decimal::ZERO
            && self.qty <= position_qty.abs()
    }
}

impl std::fmt::Display for TradingState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TradingState::Active => "ACTIVE",
            TradingState::Reducing => "REDUCING",
            TradingState::Halted => "HALTED",
        })
    }
}
