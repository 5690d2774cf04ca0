//! What an operator sees of the trading (`ballast status`): the account, the positions with
//! their unrealized PnL, the open orders and the last decisions — computed from the engine's
//! own state, bounded, and published in its heartbeat each loop.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{EngineState, SendState};
use crate::pipeline::Decision;
use crate::time::Timestamp;

/// At most this many positions (the largest by market value), open orders (the oldest) and
/// decisions (the newest) are shown; the totals are counted.
pub const VIEW_POSITIONS: usize = 20;
pub const VIEW_ORDERS: usize = 20;
pub const VIEW_DECISIONS: usize = 5;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineView {
    pub market_time: Option<Timestamp>,
    pub equity: Decimal,
    pub cash: Decimal,
    /// Σ |qty · mark|, and as a percentage of equity, beside the auto-trim cap.
    pub gross_exposure: Decimal,
    pub exposure_pct: Decimal,
    pub exposure_cap_pct: Decimal,
    /// Equity now minus equity at the start of the (UTC, market-time) day.
    pub day_pnl: Decimal,
    pub realized_pnl: Decimal,
    pub fees: Decimal,
    pub positions: Vec<PositionView>,
    pub positions_total: usize,
    pub open_orders: Vec<OrderView>,
    pub open_orders_total: usize,
    /// Newest first.
    pub decisions: Vec<Decision>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PositionView {
    pub symbol: String,
    pub qty: Decimal,
    pub avg_price: Decimal,
    pub mark: Option<Decimal>,
    pub market_value: Decimal,
    pub unrealized_pnl: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderView {
    pub client_order_id: String,
    pub symbol: String,
    pub side: String,
    pub qty: Decimal,
    pub filled: Decimal,
    /// `market` or `limit 131.20`.
    pub kind: String,
    /// `intent` (journaled, not sent), `at the venue`, `unknown outcome`.
    pub state: String,
    pub created_at: Timestamp,
}

fn pct(part: Decimal, whole: Decimal) -> Decimal {
    if whole.is_zero() {
        Decimal::ZERO
    } else {
        (part * Decimal::ONE_HUNDRED / whole).round_dp(2)
    }
}

impl EngineState {
    /// The operator's view; `exposure_cap_pct` is `[risk] max_total_at_risk_pct`.
    pub fn view(&self, exposure_cap_pct: Decimal) -> EngineView {
        let equity = self.portfolio.equity();
        let gross = self.portfolio.gross_exposure();
        let mut positions: Vec<PositionView> = self
            .portfolio
            .positions()
            .filter(|p| !p.qty.is_zero())
            .map(|p| {
                let mark = self.portfolio.mark_of(&p.symbol);
                let price = mark.unwrap_or(p.avg_entry_price);
                PositionView {
                    symbol: p.symbol.as_str().to_owned(),
                    qty: p.qty,
                    avg_price: p.avg_entry_price.round_dp(4),
                    mark,
                    market_value: (p.qty * price).round_dp(2),
                    unrealized_pnl: ((price - p.avg_entry_price) * p.qty).round_dp(2),
                }
            })
            .collect();
        let positions_total = positions.len();
        positions.sort_by(|a, b| {
            b.market_value
                .abs()
                .cmp(&a.market_value.abs())
                .then_with(|| a.symbol.cmp(&b.symbol))
        });
        positions.truncate(VIEW_POSITIONS);
        let mut open_orders: Vec<OrderView> = self
            .orders
            .tracked
            .values()
            .map(|t| OrderView {
                client_order_id: t.order.client_order_id.as_str().to_owned(),
                symbol: t.order.symbol.as_str().to_owned(),
                side: t.order.side.to_string(),
                qty: t.order.qty.value(),
                filled: t.filled,
                kind: match t.order.limit_price() {
                    Some(p) => format!("limit {p}"),
                    None => "market".to_owned(),
                },
                state: match t.send {
                    SendState::Intent => "intent".to_owned(),
                    SendState::Unknown { .. } => "unknown outcome".to_owned(),
                    SendState::Accepted => "at the venue".to_owned(),
                },
                created_at: t.order.created_at,
            })
            .collect();
        let open_orders_total = open_orders.len();
        open_orders.sort_by_key(|o| o.created_at);
        open_orders.truncate(VIEW_ORDERS);
        EngineView {
            market_time: self.last_bar,
            equity: equity.round_dp(2),
            cash: self.portfolio.cash.round_dp(2),
            gross_exposure: gross.round_dp(2),
            exposure_pct: pct(gross, equity),
            exposure_cap_pct,
            day_pnl: (equity - self.start_of_day_equity).round_dp(2),
            realized_pnl: self.portfolio.realized_pnl().round_dp(2),
            fees: self.portfolio.fees.round_dp(2),
            positions,
            positions_total,
            open_orders,
            open_orders_total,
            decisions: self
                .decisions
                .log
                .recent()
                .take(VIEW_DECISIONS)
                .cloned()
                .collect(),
        }
    }
}
