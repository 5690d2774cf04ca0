//! The backtest driver: bars → strategy → orders → paper broker → fills → portfolio, on the
//! bars' own (virtual) time, with round-trip trades and a summary. Pure and deterministic.
//!
//! Per bar: the broker first fills orders waiting for this bar (at its open), then the
//! portfolio is marked at the close, then the strategy sees the closed bar and may change its
//! target; the difference from the position (and open orders) becomes a market order that
//! fills at the next bar's open.

use std::collections::{BTreeMap, HashMap};

use rust_decimal::Decimal;
use serde::Serialize;

use crate::domain::{
    ClientOrderId, Fill, Order, OrderKind, Quantity, Side, SignalId, Symbol, TimeInForce,
};
use crate::guard::{self, Account, Candidate, Gate, GuardState, Limits, Verdict};
use crate::market::Bar;
use crate::paper::{PaperBroker, PaperConfig};
use crate::portfolio::Portfolio;
use crate::strategy::Strategy;
use crate::time::Timestamp;

/// One round trip: from flat to flat (or to a flip).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Trade {
    pub symbol: Symbol,
    pub entry_time: Timestamp,
    pub entry_price: Decimal,
    /// `None` while the trade is still open.
    pub exit_time: Option<Timestamp>,
    pub exit_price: Option<Decimal>,
    /// Signed: positive long, negative short.
    pub qty: Decimal,
    /// Realized PnL net of the fees of its fills (`None` while open).
    pub pnl: Option<Decimal>,
}

#[derive(Debug, Default)]
struct OpenTrade {
    entry_time: Timestamp,
    entry_notional: Decimal,
    qty: Decimal,
    exit_notional: Decimal,
    exit_qty: Decimal,
    fees: Decimal,
    realized_at_entry: Decimal,
}

/// The summary of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub bars: u64,
    pub signals: u64,
    pub orders: u64,
    pub fills: u64,
    /// Orders refused, by the check that refused them.
    pub rejections: BTreeMap<String, u64>,
    /// Orders the guard made smaller, by the check that decided.
    pub resized: BTreeMap<String, u64>,
    pub trades: u64,
    pub starting_equity: Decimal,
    pub final_equity: Decimal,
    pub return_pct: Decimal,
    pub max_drawdown_pct: Decimal,
    pub fees: Decimal,
}

/// The trade guard as the backtest runs it (the same pure function as the engine).
pub struct GuardSetup {
    pub limits: Limits,
    pub gate: Gate,
}

struct GuardRun {
    limits: Limits,
    gate: Gate,
    state: GuardState,
    day: Option<(i32, u32, u32)>,
    start_of_day_equity: Decimal,
}

/// A running backtest.
pub struct Backtest<S: Strategy> {
    guard: Option<GuardRun>,
    strategy: S,
    broker: PaperBroker,
    portfolio: Portfolio,
    open_trades: HashMap<Symbol, OpenTrade>,
    trades: Vec<Trade>,
    next_signal: u64,
    summary: Summary,
    peak: Decimal,
    /// The worst drawdown so far as (peak, equity), compared by cross-multiplication so the
    /// per-bar path has no division.
    worst: (Decimal, Decimal),
}

impl<S: Strategy> Backtest<S> {
    pub fn new(strategy: S, paper: PaperConfig, cash: Decimal) -> Self {
        Backtest {
            guard: None,
            strategy,
            broker: PaperBroker::new(paper),
            portfolio: Portfolio::new(cash),
            open_trades: HashMap::new(),
            trades: Vec::new(),
            next_signal: 1,
            summary: Summary {
                bars: 0,
                signals: 0,
                orders: 0,
                fills: 0,
                rejections: BTreeMap::new(),
                resized: BTreeMap::new(),
                trades: 0,
                starting_equity: cash,
                final_equity: cash,
                return_pct: Decimal::ZERO,
                max_drawdown_pct: Decimal::ZERO,
                fees: Decimal::ZERO,
            },
            peak: cash,
            worst: (cash, cash),
        }
    }

    /// Check every order with the trade guard.
    pub fn with_guard(mut self, setup: GuardSetup) -> Self {
        self.guard = Some(GuardRun {
            limits: setup.limits,
            gate: setup.gate,
            state: GuardState::default(),
            day: None,
            start_of_day_equity: self.summary.starting_equity,
        });
        self
    }

    pub fn portfolio(&self) -> &Portfolio {
        &self.portfolio
    }

    /// Feed one bar (bars must come in time order).
    pub fn on_bar(&mut self, bar: &Bar) {
        self.summary.bars += 1;
        for fill in self.broker.on_bar(bar) {
            self.book(&fill);
        }
        self.portfolio.mark(&bar.symbol, bar.close);
        let equity = self.portfolio.equity();
        if equity > self.peak {
            self.peak = equity;
        } else if self.peak > Decimal::ZERO {
            // (peak − equity) / peak > (p − e) / p  ⇔  (peak − equity)·p > (p − e)·peak
            let (p, e) = self.worst;
            if (self.peak - equity) * p > (p - e) * self.peak {
                self.worst = (self.peak, equity);
            }
        }
        if let Some(g) = &mut self.guard {
            let day = bar.ts.date();
            if g.day != Some(day) {
                g.day = Some(day);
                g.start_of_day_equity = equity;
            }
        }
        let Some(target) = self.strategy.on_bar(bar) else {
            return;
        };
        self.summary.signals += 1;
        let have = self.portfolio.qty(&bar.symbol) + self.broker.pending_qty(&bar.symbol);
        let delta = target.qty - have;
        if delta.is_zero() {
            return;
        }
        let side = if delta > Decimal::ZERO {
            Side::Buy
        } else {
            Side::Sell
        };
        let mut candidate = Candidate {
            symbol: bar.symbol.clone(),
            side,
            qty: delta.abs(),
            limit_price: None,
            idempotency_key: None,
        };
        if let Some(g) = &self.guard {
            let account = Account::from_portfolio(
                &self.portfolio,
                &bar.symbol,
                u32::try_from(self.broker.open_count()).unwrap_or(u32::MAX),
                self.broker.reserved_cash(|s| self.portfolio.mark_of(s)),
                g.start_of_day_equity,
                self.peak,
            );
            let verdict =
                guard::evaluate(&g.limits, &g.gate, &g.state, &candidate, &account, bar.ts);
            match verdict.approved_qty(candidate.qty) {
                Some(q) => {
                    if let Verdict::Resize { reasons, .. } = &verdict {
                        if let Some(r) = reasons.first() {
                            self.count_resize(r.check.name());
                        }
                    }
                    candidate.qty = q;
                }
                None => {
                    self.count_rejection(verdict.deciding_check().map_or("guard", |c| c.name()));
                    return;
                }
            }
        }
        let Ok(qty) = Quantity::new(candidate.qty) else {
            self.count_rejection("invalid_quantity");
            return;
        };
        // A cash account cannot buy more than its cash (estimated at this close).
        if side == Side::Buy
            && candidate.qty * bar.close > self.portfolio.cash
            && self.portfolio.qty(&bar.symbol) >= Decimal::ZERO
        {
            self.count_rejection("buying_power");
            return;
        }
        if let Some(g) = &mut self.guard {
            g.state.record_submit(&candidate, bar.ts, &g.limits);
        }
        let signal = SignalId(self.next_signal);
        self.next_signal += 1;
        self.summary.orders += 1;
        self.broker.submit(Order {
            client_order_id: ClientOrderId::for_signal(signal, 0),
            symbol: bar.symbol.clone(),
            side,
            qty,
            kind: OrderKind::Market,
            tif: TimeInForce::Day,
            created_at: bar.ts,
        });
    }

    fn count_rejection(&mut self, check: &str) {
        *self.summary.rejections.entry(check.to_owned()).or_default() += 1;
    }

    fn count_resize(&mut self, check: &str) {
        *self.summary.resized.entry(check.to_owned()).or_default() += 1;
    }

    fn book(&mut self, fill: &Fill) {
        let before = self.portfolio.qty(&fill.symbol);
        let realized_before = self
            .portfolio
            .position(&fill.symbol)
            .map_or(Decimal::ZERO, |p| p.realized_pnl);
        if self.portfolio.apply_fill(fill).is_err() {
            return; // a fill for another symbol cannot come out of the simulator
        }
        self.summary.fills += 1;
        let after = self.portfolio.qty(&fill.symbol);
        let realized_after = self
            .portfolio
            .position(&fill.symbol)
            .map_or(Decimal::ZERO, |p| p.realized_pnl);
        let price = fill.price.value();
        let signed = fill.signed_qty();
        // Split the fill into the part that closes and the part that opens.
        let closing = if before.is_zero() || before.is_sign_positive() == signed.is_sign_positive()
        {
            Decimal::ZERO
        } else {
            signed.abs().min(before.abs())
        };
        let opening = signed.abs() - closing;
        let fee_per_unit = fill.fee.value() / fill.qty.value();
        if !closing.is_zero() {
            if let Some(t) = self.open_trades.get_mut(&fill.symbol) {
                t.exit_notional += closing * price;
                t.exit_qty += closing;
                t.fees += fee_per_unit * closing;
            }
            if after.is_zero() || after.is_sign_positive() != before.is_sign_positive() {
                if let Some(t) = self.open_trades.remove(&fill.symbol) {
                    let realized = realized_after - t.realized_at_entry;
                    if let Some(g) = &mut self.guard {
                        g.state.record_exit(realized - t.fees, fill.ts, &g.limits);
                    }
                    self.trades.push(Trade {
                        symbol: fill.symbol.clone(),
                        entry_time: t.entry_time,
                        entry_price: (t.entry_notional / t.qty.abs()).normalize(),
                        exit_time: Some(fill.ts),
                        exit_price: Some((t.exit_notional / t.exit_qty).normalize()),
                        qty: t.qty,
                        pnl: Some((realized - t.fees).normalize()),
                    });
                    self.summary.trades += 1;
                }
            }
        }
        if !opening.is_zero() {
            let t = self
                .open_trades
                .entry(fill.symbol.clone())
                .or_insert_with(|| OpenTrade {
                    entry_time: fill.ts,
                    realized_at_entry: if closing.is_zero() {
                        realized_before
                    } else {
                        realized_after
                    },
                    ..OpenTrade::default()
                });
            t.entry_notional += opening * price;
            t.qty += fill.side.sign() * opening;
            t.fees += fee_per_unit * opening;
        }
    }

    /// Finish: the summary and every trade, open ones last (with empty exit fields).
    pub fn finish(mut self) -> (Summary, Vec<Trade>) {
        let mut open: Vec<(Symbol, OpenTrade)> = self.open_trades.drain().collect();
        open.sort_by(|a, b| a.0.cmp(&b.0));
        for (symbol, t) in open {
            self.trades.push(Trade {
                symbol,
                entry_time: t.entry_time,
                entry_price: (t.entry_notional / t.qty.abs()).normalize(),
                exit_time: None,
                exit_price: None,
                qty: t.qty,
                pnl: None,
            });
        }
        let s = &mut self.summary;
        s.final_equity = self.portfolio.equity();
        s.fees = self.portfolio.fees;
        let hundred = Decimal::ONE_HUNDRED;
        if !s.starting_equity.is_zero() {
            s.return_pct =
                ((s.final_equity - s.starting_equity) / s.starting_equity * hundred).round_dp(4);
        }
        let (p, e) = self.worst;
        if p > Decimal::ZERO {
            s.max_drawdown_pct = ((p - e) / p * hundred).round_dp(4);
        }
        (self.summary, self.trades)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::SmaCross;

    fn bar(day: i64, sym: &str, open: i64, close: i64) -> Bar {
        let (o, c) = (Decimal::from(open), Decimal::from(close));
        Bar {
            symbol: Symbol::new(sym).unwrap(),
            ts: Timestamp::from_unix_ms(day * 86_400_000),
            open: o,
            high: o.max(c),
            low: o.min(c),
            close: c,
            volume: Decimal::from(1_000_000),
        }
    }

    fn zero_cost() -> PaperConfig {
        PaperConfig {
            slippage_bps: Decimal::ZERO,
            fee_bps: Decimal::ZERO,
            participation: Decimal::ONE,
            latency_ms: 0,
        }
    }

    #[test]
    fn a_cross_up_then_down_is_one_round_trip_filled_at_next_opens() {
        let closes = [10, 9, 8, 12, 13, 7, 6];
        let mut bt = Backtest::new(
            SmaCross::new(1, 2, Decimal::from(5), false),
            zero_cost(),
            Decimal::from(1000),
        );
        for (i, c) in closes.iter().enumerate() {
            bt.on_bar(&bar(i as i64, "X", 100 + i as i64, *c));
        }
        let (s, trades) = bt.finish();
        // Cross up at bar 3 (8→12 over 2-SMA), filled at bar 4's open 104; down at bar 5, filled at 106.
        assert_eq!(trades.len(), 1);
        let t = &trades[0];
        assert_eq!(
            (t.entry_price, t.exit_price),
            (Decimal::from(104), Some(Decimal::from(106)))
        );
        assert_eq!(t.entry_time.unix_ms(), 4 * 86_400_000);
        assert_eq!(t.pnl, Some(Decimal::from(10)));
        assert_eq!((s.orders, s.fills, s.trades), (2, 2, 1));
        assert_eq!(s.final_equity, Decimal::from(1010));
    }

    #[test]
    fn a_cross_on_the_last_bar_has_no_fill_and_open_trades_are_listed() {
        let closes = [10, 9, 8, 12];
        let mut bt = Backtest::new(
            SmaCross::new(1, 2, Decimal::ONE, false),
            zero_cost(),
            Decimal::from(1000),
        );
        for (i, c) in closes.iter().enumerate() {
            bt.on_bar(&bar(i as i64, "X", 10, *c));
        }
        let (s, trades) = bt.finish();
        assert_eq!((s.orders, s.fills), (1, 0));
        assert!(trades.is_empty());
    }

    #[test]
    fn the_guard_decides_every_order_and_counts_by_check() {
        let limits = crate::guard::Limits::from(&crate::config::builtin().unwrap());
        let gate = crate::guard::Gate {
            kill_switch: true,
            ..crate::guard::Gate::default()
        };
        let mut bt = Backtest::new(
            SmaCross::new(1, 2, Decimal::ONE, false),
            zero_cost(),
            Decimal::from(1000),
        )
        .with_guard(GuardSetup { limits, gate });
        for (i, c) in [10, 9, 8, 12, 13, 7, 6].iter().enumerate() {
            bt.on_bar(&bar(i as i64, "X", 10, *c));
        }
        let (s, trades) = bt.finish();
        assert_eq!(s.orders, 0);
        assert_eq!(
            s.rejections.get("kill_switch"),
            Some(&1),
            "{:?}",
            s.rejections
        );
        assert!(trades.is_empty());
    }

    #[test]
    fn buying_beyond_cash_is_rejected_and_counted() {
        let mut bt = Backtest::new(
            SmaCross::new(1, 2, Decimal::from(1000), false),
            zero_cost(),
            Decimal::from(100),
        );
        for (i, c) in [10, 9, 8, 12, 13].iter().enumerate() {
            bt.on_bar(&bar(i as i64, "X", 10, *c));
        }
        let (s, _) = bt.finish();
        assert_eq!(s.rejections.get("buying_power"), Some(&1));
        assert_eq!(s.orders, 0);
    }
}
