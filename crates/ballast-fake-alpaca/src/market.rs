//! The fake's market: the bundled replay bars (`ballast_engine::feed::file::load_bundled`),
//! one bar per tick per symbol. Tick `k` (from 1) reveals bar `k - 1` of each symbol's series
//! (a series that runs out starts again from its first bar, so a long demo never stops), stamped
//! one minute apart from [`BARS_START`] whatever the data's own dates (the data is daily; the
//! fake's bars are `1Min`).

use ballast_core::domain::Symbol;
use ballast_core::market::Bar;
use rust_decimal::Decimal;

use crate::clock::Micros;

/// The `t` of the first bar: 2026-01-05T14:30:00Z (a Monday's open in New York), in µs.
pub const BARS_START_US: Micros = 1_767_623_400_000_000;
/// One bar per minute.
pub const BAR_SPACING_US: Micros = 60_000_000;
/// Symbols traded when the configuration names none.
pub const DEFAULT_SYMBOLS: [&str; 2] = ["AAPL", "MSFT"];

/// One symbol's bars.
#[derive(Debug)]
pub struct Series {
    pub symbol: String,
    /// A stable UUID for the asset (Alpaca's `asset_id`).
    pub asset_id: String,
    bars: Vec<Bar>,
}

/// Why the market could not be built.
#[derive(Debug, thiserror::Error)]
pub enum MarketError {
    #[error("fake Alpaca: symbol {0:?} is not valid: {1}")]
    Symbol(String, String),
    #[error(
        "fake Alpaca: the bundled replay data has no bars for {0}; it has AAPL, IBM, MSFT, GOOG and FB"
    )]
    NoBars(String),
    #[error("fake Alpaca: cannot read the bundled replay data: {0}")]
    Data(String),
}

/// Every traded symbol's series and how many ticks have passed.
#[derive(Debug)]
pub struct Market {
    series: Vec<Series>,
    ticks: u64,
}

impl Market {
    /// The market of `symbols` (upper-cased; empty = AAPL, MSFT).
    pub fn load(symbols: &[String]) -> Result<Market, MarketError> {
        let names: Vec<String> = if symbols.is_empty() {
            DEFAULT_SYMBOLS.iter().map(|s| (*s).to_owned()).collect()
        } else {
            symbols
                .iter()
                .map(|s| s.trim().to_ascii_uppercase())
                .collect()
        };
        let mut parsed = Vec::with_capacity(names.len());
        for n in &names {
            parsed.push(Symbol::new(n).map_err(|e| MarketError::Symbol(n.clone(), e.to_string()))?);
        }
        let loaded = ballast_engine::feed::file::load_bundled(&parsed)
            .map_err(|e| MarketError::Data(e.to_string()))?;
        let all = loaded.bars.into_vec();
        let mut series = Vec::with_capacity(names.len());
        for (i, n) in names.iter().enumerate() {
            let bars: Vec<Bar> = all
                .iter()
                .filter(|b| b.symbol.as_str() == n)
                .copied()
                .collect();
            if bars.is_empty() {
                return Err(MarketError::NoBars(n.clone()));
            }
            series.push(Series {
                symbol: n.clone(),
                asset_id: asset_uuid(n, i),
                bars,
            });
        }
        Ok(Market { series, ticks: 0 })
    }

    pub fn series(&self) -> &[Series] {
        &self.series
    }

    pub fn find(&self, symbol: &str) -> Option<&Series> {
        self.series.iter().find(|s| s.symbol == symbol)
    }

    pub fn ticks(&self) -> u64 {
        self.ticks
    }

    /// Move one bar: returns the new bar of each symbol.
    pub fn advance(&mut self) -> Vec<(String, Bar)> {
        self.ticks = self.ticks.saturating_add(1);
        let k = self.ticks;
        self.series
            .iter()
            .filter_map(|s| s.bar(k).map(|b| (s.symbol.clone(), b)))
            .collect()
    }

    /// The last price of `symbol`: the close of its latest revealed bar, or the open of its
    /// first bar before any tick.
    pub fn price(&self, symbol: &str) -> Option<Decimal> {
        let s = self.find(symbol)?;
        match s.bar(self.ticks) {
            Some(b) => Some(b.close),
            None => s.bars.first().map(|b| b.open),
        }
    }

    /// The close of the bar before the latest (the "last day" price), or [`Market::price`].
    pub fn previous_price(&self, symbol: &str) -> Option<Decimal> {
        let s = self.find(symbol)?;
        s.bar(self.ticks.saturating_sub(1))
            .map(|b| b.close)
            .or_else(|| self.price(symbol))
    }
}

impl Series {
    /// The bar tick `k` (from 1) reveals; none for tick 0.
    pub fn bar(&self, k: u64) -> Option<Bar> {
        let i = k.checked_sub(1)?;
        let len = u64::try_from(self.bars.len()).ok().filter(|l| *l > 0)?;
        let at = usize::try_from(i % len).ok()?;
        self.bars.get(at).copied()
    }
}

/// The `t` of the bar tick `k` (from 1) reveals.
pub fn bar_time(k: u64) -> Micros {
    let i = i64::try_from(k.saturating_sub(1)).unwrap_or(i64::MAX);
    BARS_START_US.saturating_add(i.saturating_mul(BAR_SPACING_US))
}

/// A deterministic UUID (v4 layout) for an asset.
fn asset_uuid(symbol: &str, index: usize) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in symbol.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let mut ids = crate::ids::IdGen::new(h ^ index as u64);
    ids.uuid()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_reveal_one_bar_per_symbol() {
        let mut m = Market::load(&[]).unwrap();
        assert_eq!(m.series().len(), 2);
        let first_open = m.price("AAPL").unwrap();
        let bars = m.advance();
        assert_eq!(bars.len(), 2);
        assert_eq!(bars[0].1.open, first_open);
        assert_eq!(m.price("AAPL"), Some(bars[0].1.close));
        assert_eq!(bar_time(2) - bar_time(1), BAR_SPACING_US);
        assert!(Market::load(&["ZZZZ".into()]).is_err());
    }
}
