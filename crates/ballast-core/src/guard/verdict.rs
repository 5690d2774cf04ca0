use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Every check of the guard, named as operators and metrics see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    KillSwitch,
    Mode,
    Universe,
    TradingState,
    InvalidOrder,
    ReferencePrice,
    PriceBand,
    DuplicateOrder,
    MaxOpenOrders,
    OrderRatePerSecond,
    OrderRatePerMinute,
    Cooldown,
    DailyLoss,
    MaxDrawdown,
    StopLossStreak,
    DirectionFlip,
    SizeMultiplier,
    MaxNotionalPerOrder,
    MaxPositionNotional,
    MaxPortfolioExposure,
    MaxConcentration,
    BuyingPower,
}

impl Check {
    /// Every check, in evaluation order (the metrics export a series for each).
    pub const ALL: [Check; 22] = [
        Check::KillSwitch,
        Check::Mode,
        Check::Universe,
        Check::TradingState,
        Check::InvalidOrder,
        Check::ReferencePrice,
        Check::PriceBand,
        Check::DuplicateOrder,
        Check::MaxOpenOrders,
        Check::OrderRatePerSecond,
        Check::OrderRatePerMinute,
        Check::Cooldown,
        Check::DailyLoss,
        Check::MaxDrawdown,
        Check::StopLossStreak,
        Check::DirectionFlip,
        Check::SizeMultiplier,
        Check::MaxNotionalPerOrder,
        Check::MaxPositionNotional,
        Check::MaxPortfolioExposure,
        Check::MaxConcentration,
        Check::BuyingPower,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Check::KillSwitch => "kill_switch",
            Check::Mode => "mode",
            Check::Universe => "universe",
            Check::TradingState => "trading_state",
            Check::InvalidOrder => "invalid_order",
            Check::ReferencePrice => "reference_price",
            Check::PriceBand => "price_band",
            Check::DuplicateOrder => "duplicate_order",
            Check::MaxOpenOrders => "max_open_orders",
            Check::OrderRatePerSecond => "order_rate_per_second",
            Check::OrderRatePerMinute => "order_rate_per_minute",
            Check::Cooldown => "cooldown",
            Check::DailyLoss => "daily_loss_limit",
            Check::MaxDrawdown => "max_drawdown",
            Check::StopLossStreak => "stop_loss_streak",
            Check::DirectionFlip => "direction_flip",
            Check::SizeMultiplier => "size_multiplier",
            Check::MaxNotionalPerOrder => "max_notional_per_order",
            Check::MaxPositionNotional => "max_position_notional",
            Check::MaxPortfolioExposure => "max_portfolio_exposure_pct",
            Check::MaxConcentration => "max_concentration_per_symbol_pct",
            Check::BuyingPower => "buying_power",
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a check decided: `max_notional_per_order: 2500 > 2000`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    pub check: Check,
    pub observed: Decimal,
    pub limit: Decimal,
    pub detail: String,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A gate (halted, kill switch, mode, universe, no price, an invalid order) has no
        // figure to compare: its words say it (`trading_state: trading is HALTED`, not
        // `1 > 0`).
        let gate = matches!(
            self.check,
            Check::KillSwitch
                | Check::Mode
                | Check::Universe
                | Check::TradingState
                | Check::InvalidOrder
                | Check::ReferencePrice
        );
        if gate && !self.detail.is_empty() {
            return write!(f, "{}: {}", self.check, self.detail);
        }
        // A minimum (the cooldown: bars since the last trade) is refused below its limit.
        let op = if self.check == Check::Cooldown {
            "<"
        } else {
            ">"
        };
        write!(
            f,
            "{}: {} {op} {}",
            self.check,
            self.observed.normalize(),
            self.limit.normalize()
        )?;
        if !self.detail.is_empty() {
            write!(f, " ({})", self.detail)?;
        }
        Ok(())
    }
}

/// The guard's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    Approve,
    Reject {
        reasons: Vec<Reason>,
    },
    /// Approved with a smaller quantity.
    Resize {
        qty: Decimal,
        reasons: Vec<Reason>,
    },
}

impl Verdict {
    /// The quantity that may be sent, if any.
    pub fn approved_qty(&self, requested: Decimal) -> Option<Decimal> {
        match self {
            Verdict::Approve => Some(requested),
            Verdict::Resize { qty, .. } => Some(*qty),
            Verdict::Reject { .. } => None,
        }
    }

    /// The check that decided a rejection or resize (the first reason).
    pub fn deciding_check(&self) -> Option<Check> {
        match self {
            Verdict::Approve => None,
            Verdict::Reject { reasons } | Verdict::Resize { reasons, .. } => {
                reasons.first().map(|r| r.check)
            }
        }
    }
}
