//! A seeded multiplicative (geometric) random walk, in exact decimal arithmetic. Each step
//! draws an approximately normal shock (the Irwin–Hall sum of 12 uniforms, minus 6) from a
//! counter-based generator, so the walk is a pure function of the seed and the step.

use std::collections::BTreeMap;

use ballast_core::domain::Symbol;
use ballast_core::market::Bar;
use ballast_core::time::Timestamp;
use rust_decimal::{Decimal, RoundingStrategy};

const DAY_MS: i64 = 86_400_000;
/// Prices never fall below this (a walk must stay positive).
const FLOOR: Decimal = Decimal::from_parts(1, 0, 0, false, 2);

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The walk's state: last close per symbol, the step counter and the time of the next bar.
#[derive(Debug, Clone)]
pub struct Walk {
    last: BTreeMap<Symbol, Decimal>,
    order: Vec<Symbol>,
    next: usize,
    step: u64,
    ts: Timestamp,
    seed: u64,
    volatility_pct: Decimal,
}

impl Walk {
    pub fn new(symbols: &[Symbol], start: Decimal, seed: u64, volatility_pct: Decimal) -> Self {
        let last = symbols.iter().map(|s| (*s, start)).collect();
        Walk {
            last,
            order: symbols.to_vec(),
            next: 0,
            step: 0,
            ts: Timestamp::from_date(2020, 1, 1).unwrap_or(Timestamp::EPOCH),
            seed,
            volatility_pct,
        }
    }

    /// Continue after `bars` (sorted by time): one bar a day per symbol from their last closes.
    pub fn after(bars: &[Bar], seed: u64, volatility_pct: Decimal) -> Self {
        let mut last = BTreeMap::new();
        for b in bars {
            last.insert(b.symbol, b.close);
        }
        let order = last.keys().cloned().collect();
        let ts = bars
            .last()
            .map_or(Timestamp::EPOCH, |b| b.ts)
            .plus_ms(DAY_MS);
        Walk {
            last,
            order,
            next: 0,
            step: 0,
            ts,
            seed,
            volatility_pct,
        }
    }

    /// A shock in units of standard deviations, with 4 decimals.
    fn shock(&self) -> Decimal {
        let mut sum = 0i64;
        for i in 0..12u64 {
            let r = splitmix(self.seed ^ splitmix(self.step.wrapping_mul(31).wrapping_add(i)));
            sum += (r % 10_000) as i64;
        }
        Decimal::new(sum - 60_000, 4)
    }

    pub fn next_bar(&mut self) -> Bar {
        if self.order.is_empty() {
            self.order
                .push(Symbol::new("SYN").unwrap_or_else(|_| unreachable!("SYN is a valid symbol")));
            self.last.insert(self.order[0], Decimal::ONE_HUNDRED);
        }
        let symbol = self.order[self.next];
        let open = self
            .last
            .get(&symbol)
            .copied()
            .unwrap_or(Decimal::ONE_HUNDRED);
        let shock = self.shock();
        let factor = Decimal::ONE + self.volatility_pct * shock / Decimal::ONE_HUNDRED;
        let close = (open * factor)
            .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
            .max(FLOOR);
        let spread = (open.max(close) * self.volatility_pct / Decimal::from(400)).round_dp(2);
        let bar = Bar {
            symbol,
            ts: self.ts,
            open,
            high: open.max(close) + spread,
            low: (open.min(close) - spread).max(FLOOR).min(open.min(close)),
            close,
            volume: Decimal::from(1_000_000),
        };
        self.last.insert(symbol, close);
        self.step += 1;
        self.next += 1;
        if self.next == self.order.len() {
            self.next = 0;
            self.ts = self.ts.plus_ms(DAY_MS);
        }
        bar
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_walk_is_deterministic_positive_and_consistent() {
        let syms = [Symbol::new("A").unwrap(), Symbol::new("B").unwrap()];
        let mut a = Walk::new(&syms, Decimal::from(100), 42, Decimal::from(2));
        let mut b = Walk::new(&syms, Decimal::from(100), 42, Decimal::from(2));
        let mut c = Walk::new(&syms, Decimal::from(100), 43, Decimal::from(2));
        let mut differs = false;
        for _ in 0..5_000 {
            let (x, y, z) = (a.next_bar(), b.next_bar(), c.next_bar());
            assert_eq!(x, y);
            differs |= x != z;
            assert!(
                x.low > Decimal::ZERO
                    && x.low <= x.open.min(x.close)
                    && x.high >= x.open.max(x.close)
            );
        }
        assert!(differs, "another seed gives another walk");
    }
}
