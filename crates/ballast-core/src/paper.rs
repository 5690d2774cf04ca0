//! The paper broker: a deterministic fill simulator against the feed's bars.
//!
//! - a market order fills at the open of the first bar of its symbol after it was submitted,
//!   plus (buy) or minus (sell) `slippage_bps`;
//! - a limit order fills on such a bar when it is crossed (buy: low ≤ limit, at the better of
//!   open and limit; sell: high ≥ limit), and rests otherwise;
//! - one bar fills at most `participation` × its volume of an order; the rest waits for later
//!   bars (partial fills), rounded down to the order quantity's decimal places;
//! - each fill pays `fee_bps` of its notional.
//!
//! Latency: an order never fills on the bar it was sent on, nor on a bar less than
//! `latency_ms` after it was sent. Fill ids are `paper-<n>`: the simulator draws nothing at
//! random, so the same bars always give the same fills.

use std::collections::VecDeque;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::domain::{
    ClientOrderId, Fill, FillId, Notional, Order, OrderKind, Price, Quantity, Side,
};
use crate::market::Bar;

/// Prices are rounded to this many places after slippage.
const PRICE_DP: u32 = 6;

/// The simulator's settings (`[paper]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaperConfig {
    pub slippage_bps: Decimal,
    pub fee_bps: Decimal,
    pub participation: Decimal,
    /// An order fills only on bars at least this long after it was sent.
    #[serde(default)]
    pub latency_ms: i64,
}

impl From<&crate::config::Paper> for PaperConfig {
    fn from(p: &crate::config::Paper) -> Self {
        PaperConfig {
            slippage_bps: p.slippage_bps,
            fee_bps: p.fee_bps,
            participation: p.participation,
            latency_ms: i64::from(p.latency_ms),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Working {
    order: Order,
    remaining: Decimal,
}

/// The simulator: the orders it holds until they are filled or cancelled.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaperBroker {
    cfg: Option<PaperConfig>,
    open: VecDeque<Working>,
    fills: u64,
}

impl PaperBroker {
    pub fn new(cfg: PaperConfig) -> Self {
        PaperBroker {
            cfg: Some(cfg),
            open: VecDeque::new(),
            fills: 0,
        }
    }

    /// Accept an order; it can fill from the next bar of its symbol on. Submitting an id that
    /// is already open changes nothing (a venue dedupes by `client_order_id`, which is what
    /// makes resending after an unknown outcome safe).
    pub fn submit(&mut self, order: Order) {
        if self.lookup(&order.client_order_id).is_some() {
            return;
        }
        let remaining = order.qty.value();
        self.open.push_back(Working { order, remaining });
    }

    /// Orders not yet completely filled.
    pub fn open_orders(&self) -> impl Iterator<Item = (&Order, Decimal)> {
        self.open.iter().map(|w| (&w.order, w.remaining))
    }

    /// New settings for the fills from now on (open orders keep their place).
    pub fn set_config(&mut self, cfg: PaperConfig) {
        self.cfg = Some(cfg);
    }

    /// Fills given so far (the next fill id is `paper-<this + 1>`).
    pub fn fills(&self) -> u64 {
        self.fills
    }

    /// The simulator's settings.
    pub fn config(&self) -> Option<&PaperConfig> {
        self.cfg.as_ref()
    }

    /// Look an order up by its client order id (settles unknown outcomes).
    pub fn lookup(&self, id: &ClientOrderId) -> Option<(&Order, Decimal)> {
        self.open_orders().find(|(o, _)| &o.client_order_id == id)
    }

    /// Cancel an open order; returns the unfilled quantity.
    pub fn cancel(&mut self, id: &ClientOrderId) -> Option<Decimal> {
        let i = self
            .open
            .iter()
            .position(|w| &w.order.client_order_id == id)?;
        self.open.remove(i).map(|w| w.remaining)
    }

    /// Fill what this bar fills (computes the fills, then applies them).
    pub fn on_bar(&mut self, bar: &Bar) -> Vec<Fill> {
        let fills = self.fills_for(bar);
        for f in &fills {
            self.apply_fill(f);
        }
        fills
    }

    /// The fills this bar would produce, without changing anything. Deterministic: the same
    /// broker state and bar always give the same fills and fill ids.
    pub fn fills_for(&self, bar: &Bar) -> Vec<Fill> {
        let Some(cfg) = &self.cfg else {
            return Vec::new();
        };
        if !self.open.iter().any(|w| w.order.symbol == bar.symbol) {
            return Vec::new();
        }
        let mut out = Vec::new();
        let mut capacity = bar.volume * cfg.participation;
        let bps = Decimal::from(10_000);
        let mut n = self.fills;
        for w in &self.open {
            if w.order.symbol != bar.symbol
                || w.order.created_at >= bar.ts
                || bar.ts.ms_since(w.order.created_at) < cfg.latency_ms
                || capacity <= Decimal::ZERO
            {
                continue;
            }
            let base = match (w.order.kind, w.order.side) {
                (OrderKind::Market, _) => bar.open,
                (OrderKind::Limit { limit_price }, Side::Buy) if bar.low <= limit_price.value() => {
                    bar.open.min(limit_price.value())
                }
                (OrderKind::Limit { limit_price }, Side::Sell)
                    if bar.high >= limit_price.value() =>
                {
                    bar.open.max(limit_price.value())
                }
                (OrderKind::Limit { .. }, _) => continue,
            };
            let price = match (w.order.kind, w.order.side) {
                (OrderKind::Market, Side::Buy) => base * (bps + cfg.slippage_bps) / bps,
                (OrderKind::Market, Side::Sell) => base * (bps - cfg.slippage_bps) / bps,
                (OrderKind::Limit { .. }, _) => base,
            }
            .round_dp_with_strategy(PRICE_DP, RoundingStrategy::MidpointAwayFromZero);
            let qty = w
                .remaining
                .min(capacity)
                .round_dp_with_strategy(w.order.qty.value().scale(), RoundingStrategy::ToZero);
            let (Ok(qty_v), Ok(price_v)) = (Quantity::new(qty), Price::new(price)) else {
                continue;
            };
            capacity -= qty;
            n += 1;
            let fee = (price * qty * cfg.fee_bps / bps)
                .round_dp_with_strategy(PRICE_DP, RoundingStrategy::MidpointAwayFromZero);
            out.push(Fill {
                fill_id: FillId::parse(&format!("paper-{n}"))
                    .unwrap_or_else(|_| unreachable!("paper-<n> is a valid fill id")),
                client_order_id: w.order.client_order_id.clone(),
                symbol: w.order.symbol,
                side: w.order.side,
                qty: qty_v,
                price: price_v,
                fee: Notional::new(fee).unwrap_or(Notional::ZERO),
                ts: bar.ts,
            });
        }
        out
    }

    /// Apply a fill produced by [`Self::fills_for`]: reduce (or close) its order.
    pub fn apply_fill(&mut self, fill: &Fill) {
        self.fills += 1;
        if let Some(i) = self
            .open
            .iter()
            .position(|w| w.order.client_order_id == fill.client_order_id)
        {
            self.open[i].remaining -= fill.qty.value();
            if self.open[i].remaining <= Decimal::ZERO {
                self.open.remove(i);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{SignalId, Symbol, TimeInForce};
    use crate::time::Timestamp;

    fn d(v: &str) -> Decimal {
        v.parse().unwrap()
    }

    fn bar(t: i64, open: &str, low: &str, high: &str, volume: &str) -> Bar {
        Bar {
            symbol: Symbol::new("AAPL").unwrap(),
            ts: Timestamp::from_unix_ms(t),
            open: d(open),
            high: d(high),
            low: d(low),
            close: d(open),
            volume: d(volume),
        }
    }

    fn order(t: i64, side: Side, qty: &str, kind: OrderKind) -> Order {
        Order {
            client_order_id: ClientOrderId::for_signal(SignalId(t as u64), 0),
            symbol: Symbol::new("AAPL").unwrap(),
            side,
            qty: Quantity::new(d(qty)).unwrap(),
            kind,
            tif: TimeInForce::Day,
            created_at: Timestamp::from_unix_ms(t),
        }
    }

    fn cfg(slip: &str, fee: &str, part: &str) -> PaperConfig {
        PaperConfig {
            slippage_bps: d(slip),
            fee_bps: d(fee),
            participation: d(part),
            latency_ms: 0,
        }
    }

    #[test]
    fn market_orders_fill_at_the_next_open_with_slippage_and_fee() {
        let mut b = PaperBroker::new(cfg("10", "5", "1"));
        b.submit(order(1, Side::Buy, "10", OrderKind::Market));
        assert!(
            b.on_bar(&bar(1, "100", "99", "101", "1000")).is_empty(),
            "not on its own bar"
        );
        let f = b.on_bar(&bar(2, "100", "99", "101", "1000"));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].price.value(), d("100.1"));
        assert_eq!(f[0].fee.value(), d("0.5005"));
        assert_eq!(b.open_orders().count(), 0);
    }

    #[test]
    fn latency_delays_the_first_possible_fill() {
        let mut c = cfg("0", "0", "1");
        c.latency_ms = 90_000;
        let mut b = PaperBroker::new(c);
        b.submit(order(0, Side::Buy, "1", OrderKind::Market));
        assert!(
            b.on_bar(&bar(60_000, "10", "9", "11", "100")).is_empty(),
            "60 s < 90 s of latency"
        );
        assert_eq!(
            b.on_bar(&bar(120_000, "12", "11", "13", "100"))[0]
                .price
                .value(),
            d("12")
        );
    }

    #[test]
    fn participation_splits_large_orders_over_bars() {
        let mut b = PaperBroker::new(cfg("0", "0", "0.1"));
        b.submit(order(1, Side::Sell, "25", OrderKind::Market));
        let q: Vec<Decimal> = (2..=5)
            .flat_map(|t| b.on_bar(&bar(t, "50", "49", "51", "100")))
            .map(|f| f.qty.value())
            .collect();
        assert_eq!(q, vec![d("10"), d("10"), d("5")]);
    }

    #[test]
    fn limit_orders_fill_only_when_crossed() {
        let mut b = PaperBroker::new(cfg("0", "0", "1"));
        let limit = OrderKind::Limit {
            limit_price: Price::new(d("95")).unwrap(),
        };
        b.submit(order(1, Side::Buy, "1", limit));
        assert!(b.on_bar(&bar(2, "100", "96", "101", "10")).is_empty());
        assert!(
            b.lookup(&ClientOrderId::for_signal(SignalId(1), 0))
                .is_some()
        );
        let f = b.on_bar(&bar(3, "97", "94", "98", "10"));
        assert_eq!(f[0].price.value(), d("95"));
        let mut b = PaperBroker::new(cfg("0", "0", "1"));
        b.submit(order(1, Side::Buy, "1", limit));
        assert_eq!(
            b.on_bar(&bar(2, "90", "89", "91", "10"))[0].price.value(),
            d("90"),
            "gap down fills at the open"
        );
    }
}
