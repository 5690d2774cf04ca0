//! The universe: which symbols may be traded. An optional liquidity filter — the average
//! dollar volume (close × volume) over a window of each symbol's bars must reach a minimum —
//! with `force_eligible` symbols that always pass. A symbol with fewer bars than the window is
//! not eligible yet (its liquidity is unknown). Bounded: one window per configured symbol.

use std::collections::{BTreeMap, VecDeque};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::domain::Symbol;
use crate::market::Bar;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Window {
    values: VecDeque<Decimal>,
    sum: Decimal,
}

/// The universe and its liquidity statistics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Universe {
    symbols: Vec<Symbol>,
    force: Vec<Symbol>,
    min_adv: Decimal,
    window: usize,
    stats: BTreeMap<Symbol, Window>,
}

/// What is persisted and shown: eligibility and the averages behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UniverseSnapshot {
    pub min_avg_dollar_volume_usd: Decimal,
    pub window_bars: usize,
    pub eligible: Vec<Symbol>,
    pub ineligible: Vec<Symbol>,
    pub avg_dollar_volume: BTreeMap<Symbol, Decimal>,
}

impl Universe {
    pub fn new(config: &Config) -> Self {
        Universe {
            symbols: config.feed.symbols.clone(),
            force: config.universe.force_eligible.clone(),
            min_adv: config.universe.min_avg_dollar_volume_usd,
            window: config.universe.window_bars.max(1) as usize,
            stats: BTreeMap::new(),
        }
    }

    /// Account for a bar (only configured symbols are tracked).
    pub fn on_bar(&mut self, bar: &Bar) {
        if self.min_adv.is_zero() || !self.symbols.contains(&bar.symbol) {
            return;
        }
        let w = self.stats.entry(bar.symbol).or_default();
        let dv = bar.close * bar.volume;
        w.values.push_back(dv);
        w.sum += dv;
        if w.values.len() > self.window {
            if let Some(old) = w.values.pop_front() {
                w.sum -= old;
            }
        }
    }

    fn average(&self, symbol: &Symbol) -> Option<Decimal> {
        let w = self.stats.get(symbol)?;
        (w.values.len() >= self.window).then(|| w.sum / Decimal::from(w.values.len()))
    }

    /// May `symbol` be traded now?
    pub fn eligible(&self, symbol: &Symbol) -> bool {
        if !self.symbols.contains(symbol) {
            return false;
        }
        if self.force.contains(symbol) || self.min_adv.is_zero() {
            return true;
        }
        self.average(symbol).is_some_and(|a| a >= self.min_adv)
    }

    /// Symbols tradable now, and symbols configured.
    pub fn eligible_count(&self) -> usize {
        self.symbols.iter().filter(|s| self.eligible(s)).count()
    }
    pub fn symbol_count(&self) -> usize {
        self.symbols.len()
    }

    pub fn snapshot(&self) -> UniverseSnapshot {
        let (eligible, ineligible) = self.symbols.iter().cloned().partition(|s| self.eligible(s));
        UniverseSnapshot {
            min_avg_dollar_volume_usd: self.min_adv,
            window_bars: self.window,
            eligible,
            ineligible,
            avg_dollar_volume: self
                .symbols
                .iter()
                .filter_map(|s| Some((*s, self.average(s)?.round_dp(2))))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Timestamp;

    fn bar(sym: &str, close: i64, volume: i64) -> Bar {
        Bar {
            symbol: Symbol::new(sym).unwrap(),
            ts: Timestamp::EPOCH,
            open: Decimal::from(close),
            high: Decimal::from(close),
            low: Decimal::from(close),
            close: Decimal::from(close),
            volume: Decimal::from(volume),
        }
    }

    #[test]
    fn the_liquidity_filter_with_forced_symbols() {
        let mut cfg = crate::config::builtin().unwrap();
        cfg.feed.symbols = vec![
            Symbol::new("BIG").unwrap(),
            Symbol::new("THIN").unwrap(),
            Symbol::new("PET").unwrap(),
        ];
        cfg.universe.min_avg_dollar_volume_usd = Decimal::from(1_000_000);
        cfg.universe.window_bars = 3;
        cfg.universe.force_eligible = vec![Symbol::new("PET").unwrap()];
        let mut u = Universe::new(&cfg);
        let big = Symbol::new("BIG").unwrap();
        u.on_bar(&bar("BIG", 100, 20_000));
        assert!(!u.eligible(&big), "unknown until the window fills");
        for _ in 0..2 {
            u.on_bar(&bar("BIG", 100, 20_000));
            u.on_bar(&bar("THIN", 10, 100));
        }
        u.on_bar(&bar("THIN", 10, 100));
        assert!(u.eligible(&big));
        assert!(!u.eligible(&Symbol::new("THIN").unwrap()));
        assert!(u.eligible(&Symbol::new("PET").unwrap()), "forced");
        assert!(
            !u.eligible(&Symbol::new("OTHER").unwrap()),
            "not configured"
        );
        let s = u.snapshot();
        assert_eq!(s.ineligible, vec![Symbol::new("THIN").unwrap()]);
        assert_eq!(s.avg_dollar_volume[&big], Decimal::from(2_000_000));
        // Volume dries up: BIG drops out once the window holds only thin bars.
        for _ in 0..3 {
            u.on_bar(&bar("BIG", 100, 10));
        }
        assert!(!u.eligible(&big));
    }
}
