//! The backtest: the engine itself ([`EngineState`]: strategy, signal state machine, trade
//! guard, paper broker, portfolio, auto-trim, shadow engine, decision tracker) driven bar by bar
//! on the bars' own (virtual) time, with no journal. The live engine journals each record
//! before applying it; a backtest applies the same records at once. Pure and deterministic.
//!
//! Per bar: the broker's fills on it (orders waiting for this bar fill at its open), the
//! portfolio marked at the close, the strategy on the closed bar; then auto-trim, the
//! decisions on pending targets, and the order intents sent to the paper venue; they fill from
//! the next bar on.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Serialize;

use crate::config::Config;
use crate::engine::{ApplyError, EngineState, TrimRules};
use crate::guard::{Gate, Limits};
use crate::market::Bar;
use crate::trades::RoundTrips;

pub use crate::trades::Trade;

/// The summary of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub bars: u64,
    /// Targets the strategy set (a target equal to the position asks for nothing).
    pub targets: u64,
    /// Signals decided (each became an order or a rejection).
    pub signals: u64,
    pub orders: u64,
    pub fills: u64,
    /// Signals refused, by the check that refused them.
    pub rejections: BTreeMap<String, u64>,
    /// Orders the guard made smaller, by the check that decided.
    pub resized: BTreeMap<String, u64>,
    /// Auto-trim liquidations completed.
    pub liquidations: u64,
    pub trades: u64,
    pub starting_equity: Decimal,
    pub final_equity: Decimal,
    pub return_pct: Decimal,
    pub max_drawdown_pct: Decimal,
    pub fees: Decimal,
}

/// The trade guard and auto-trim as the backtest runs them (`None`: `--guard off`).
struct Guarding {
    limits: Limits,
    gate: Gate,
    trim: TrimRules,
}

/// The worst peak-to-trough fall of equity. Only a new trough below the current peak's lowest
/// point can deepen it, so the comparison (by cross-multiplication, no division) runs rarely.
#[derive(Debug)]
struct Drawdown {
    peak: Decimal,
    trough: Decimal,
    /// The worst so far as (peak, trough).
    worst: (Decimal, Decimal),
}

impl Drawdown {
    fn new(equity: Decimal) -> Self {
        Drawdown {
            peak: equity,
            trough: equity,
            worst: (equity, equity),
        }
    }

    fn on_equity(&mut self, equity: Decimal) {
        if equity > self.peak {
            self.peak = equity;
            self.trough = equity;
        } else if equity < self.trough {
            self.trough = equity;
            // (peak − trough) / peak > (p − t) / p  ⇔  (peak − trough)·p > (p − t)·peak
            let (p, t) = self.worst;
            if self.peak > Decimal::ZERO && (self.peak - equity) * p > (p - t) * self.peak {
                self.worst = (self.peak, equity);
            }
        }
    }

    fn pct(&self) -> Decimal {
        let (p, t) = self.worst;
        if p > Decimal::ZERO {
            ((p - t) / p * Decimal::ONE_HUNDRED).round_dp(4)
        } else {
            Decimal::ZERO
        }
    }
}

/// A running backtest.
pub struct Backtest {
    state: EngineState,
    guarding: Option<Guarding>,
    /// Limits for the state's own bookkeeping when the guard is off (never consulted for a
    /// verdict).
    limits: Limits,
    starting_equity: Decimal,
    drawdown: Drawdown,
}

impl Backtest {
    /// A backtest of the engine `config` describes (strategy, `[paper]`, `[guard]`, `[risk]`,
    /// universe); `guard = false` approves every order without the guard or auto-trim.
    /// `bars` bounds the closed trades kept (each needs at least one bar).
    pub fn new(config: &Config, guard: bool, bars: usize) -> Self {
        let mut state = EngineState::new(config);
        state.trips = RoundTrips::keeping(bars);
        let limits = Limits::from(config);
        let cash = config.paper.starting_cash_usd;
        Backtest {
            state,
            guarding: guard.then(|| Guarding {
                limits: limits.clone(),
                gate: Gate::default(),
                trim: TrimRules::from(config),
            }),
            limits,
            starting_equity: cash,
            drawdown: Drawdown::new(cash),
        }
    }

    /// The engine state so far.
    pub fn state(&self) -> &EngineState {
        &self.state
    }

    /// Feed one bar (bars must come in time order).
    pub fn on_bar(&mut self, bar: &Bar) -> Result<(), ApplyError> {
        let record = self.state.bar_record(*bar);
        let limits = self.guarding.as_ref().map_or(&self.limits, |g| &g.limits);
        self.state.apply_bar(&record, limits)?;
        self.drawdown.on_equity(self.state.portfolio.equity());
        if let Some(g) = &self.guarding {
            if let Some(r) = self.state.plan_liquidations(&g.trim, &g.gate) {
                self.state.apply_liquidation(&r);
            }
        }
        while let Some(d) = self
            .state
            .decide_with(self.guarding.as_ref().map(|g| (&g.limits, &g.gate)))
        {
            self.state.apply_decision(&d, limits)?;
        }
        for sent in self.state.paper_sends(bar.ts) {
            self.state.apply_sent(&sent)?;
        }
        Ok(())
    }

    /// Finish: the summary and every trade, open ones last (with empty exit fields).
    pub fn finish(self) -> (Summary, Vec<Trade>) {
        let summary = self.summary();
        (summary, self.state.trips.into_all())
    }

    /// The summary so far.
    pub fn summary(&self) -> Summary {
        let st = &self.state;
        let stats = &st.stats;
        let final_equity = st.portfolio.equity();
        let mut return_pct = Decimal::ZERO;
        if !self.starting_equity.is_zero() {
            return_pct = ((final_equity - self.starting_equity) / self.starting_equity
                * Decimal::ONE_HUNDRED)
                .round_dp(4);
        }
        Summary {
            bars: st.bars,
            targets: stats.targets,
            signals: stats.signals,
            orders: stats.orders,
            fills: stats.fills,
            rejections: stats.rejections.clone(),
            resized: stats.resized.clone(),
            liquidations: stats.liquidations_done,
            trades: st.trips.closed_count,
            starting_equity: self.starting_equity,
            final_equity,
            return_pct,
            max_drawdown_pct: self.drawdown.pct(),
            fees: st.portfolio.fees,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Symbol;
    use crate::time::Timestamp;

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

    /// sma_cross 1/2 on X, no costs.
    fn config(qty: i64, cash: i64) -> Config {
        let mut c = crate::config::builtin().unwrap();
        c.feed.symbols = vec![Symbol::new("X").unwrap()];
        c.strategy.fast = 1;
        c.strategy.slow = 2;
        c.strategy.qty = Decimal::from(qty);
        c.paper.starting_cash_usd = Decimal::from(cash);
        c.paper.slippage_bps = Decimal::ZERO;
        c.paper.fee_bps = Decimal::ZERO;
        c.paper.participation = Decimal::ONE;
        c.paper.latency_ms = 0;
        c
    }

    fn run(bt: &mut Backtest, opens: impl Fn(i64) -> i64, closes: &[i64]) {
        for (i, c) in closes.iter().enumerate() {
            bt.on_bar(&bar(i as i64, "X", opens(i as i64), *c)).unwrap();
        }
    }

    #[test]
    fn a_cross_up_then_down_is_one_round_trip_filled_at_next_opens() {
        let mut bt = Backtest::new(&config(5, 1000), false, 100);
        run(&mut bt, |i| 100 + i, &[10, 9, 8, 12, 13, 7, 6]);
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
        assert_eq!((s.signals, s.orders, s.fills, s.trades), (2, 2, 2, 1));
        assert_eq!(s.final_equity, Decimal::from(1010));
    }

    #[test]
    fn a_cross_on_the_last_bar_has_no_fill_and_open_trades_are_listed() {
        let mut bt = Backtest::new(&config(1, 1000), false, 100);
        run(&mut bt, |_| 10, &[10, 9, 8, 12]);
        let (s, trades) = bt.finish();
        assert_eq!((s.orders, s.fills), (1, 0));
        assert!(trades.is_empty());
        let mut bt = Backtest::new(&config(1, 1000), false, 100);
        run(&mut bt, |_| 10, &[10, 9, 8, 12, 13]);
        let (_, trades) = bt.finish();
        assert_eq!(trades.len(), 1, "the open trade is listed");
        assert_eq!((trades[0].exit_time, trades[0].pnl), (None, None));
    }

    #[test]
    fn the_guard_decides_every_order_and_counts_by_check() {
        let mut c = config(1, 1000);
        c.guard.max_notional_per_order_usd = Decimal::from(5);
        let mut bt = Backtest::new(&c, true, 100);
        run(&mut bt, |_| 10, &[10, 9, 8, 12, 13, 7, 6]);
        let (s, trades) = bt.finish();
        assert_eq!(s.orders, 0, "{s:?}");
        assert!(
            s.rejections.values().sum::<u64>() >= 1,
            "{:?}",
            s.rejections
        );
        assert!(trades.is_empty());
    }

    #[test]
    fn the_guard_never_lets_a_buy_spend_more_than_the_cash() {
        let mut c = config(1000, 100);
        let big = Decimal::from(1_000_000);
        c.guard.max_notional_per_order_usd = big;
        c.guard.max_position_notional_usd = big;
        c.guard.max_portfolio_exposure_pct = big;
        c.guard.max_concentration_per_symbol_pct = big;
        c.risk.max_total_at_risk_pct = Decimal::ONE_HUNDRED;
        let mut bt = Backtest::new(&c, true, 100);
        run(&mut bt, |_| 10, &[10, 9, 8, 12, 13]);
        assert!(bt.state().portfolio.cash >= Decimal::ZERO);
        let (s, _) = bt.finish();
        assert!(
            s.rejections.contains_key("buying_power") || s.resized.contains_key("buying_power"),
            "{s:?}"
        );
    }

    #[test]
    fn the_drawdown_is_the_worst_peak_to_trough_fall() {
        let mut d = Drawdown::new(Decimal::from(100));
        for e in [120, 90, 110, 100, 200, 160, 170, 150] {
            d.on_equity(Decimal::from(e));
        }
        // 120 → 90 is 25 %; 200 → 150 is 25 % too; nothing deeper.
        assert_eq!(d.pct(), Decimal::from(25));
        d.on_equity(Decimal::from(140));
        assert_eq!(d.pct(), Decimal::from(30));
    }
}
