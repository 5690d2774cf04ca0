//! Fast/slow simple-moving-average crossover on closes, computed exactly in decimal.
//!
//! A cross up at bar t: SMA_fast(t−1) ≤ SMA_slow(t−1) and SMA_fast(t) > SMA_slow(t), both SMAs
//! defined at t−1. A cross down: SMA_fast(t−1) ≥ SMA_slow(t−1) and SMA_fast(t) < SMA_slow(t).
//! Up targets `+qty`; down targets flat (long-only) or `−qty` (long/short).
//!
//! SMAs are compared without division: `sum_fast / fast < sum_slow / slow` ⇔
//! `sum_fast · slow < sum_slow · fast`, so the comparison is exact and cheap.

use std::cmp::Ordering;
use std::collections::VecDeque;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{Strategy, Target};
use crate::domain::SymbolMap;
use crate::market::Bar;

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Series {
    closes: VecDeque<Decimal>,
    sum_fast: Decimal,
    sum_slow: Decimal,
    /// Ordering of fast vs slow SMA at the previous bar, once both were defined
    /// (-1, 0, 1).
    prev: Option<i8>,
}

/// The `sma_cross` strategy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmaCross {
    fast: usize,
    slow: usize,
    qty: Decimal,
    allow_short: bool,
    series: SymbolMap<Series>,
}

impl SmaCross {
    /// `fast < slow`, both ≥ 1 (the configuration guarantees it), `qty > 0`.
    pub fn new(fast: usize, slow: usize, qty: Decimal, allow_short: bool) -> Self {
        debug_assert!(fast >= 1 && fast < slow, "sma_cross needs 1 <= fast < slow");
        SmaCross {
            fast: fast.max(1),
            slow: slow.max(fast + 1),
            qty,
            allow_short,
            series: SymbolMap::default(),
        }
    }
}

/// `sum_a / a` against `sum_b / b`, exactly, as `sum_a · b` against `sum_b · a`: on the
/// integer mantissas when the scales agree (sums of closes quoted alike), else in decimal.
fn compare_means(sum_a: Decimal, a: usize, sum_b: Decimal, b: usize) -> Ordering {
    if sum_a.scale() == sum_b.scale() {
        let lhs = sum_a.mantissa().checked_mul(b as i128);
        let rhs = sum_b.mantissa().checked_mul(a as i128);
        if let (Some(l), Some(r)) = (lhs, rhs) {
            return l.cmp(&r);
        }
    }
    (sum_a * Decimal::from(b)).cmp(&(sum_b * Decimal::from(a)))
}

impl Strategy for SmaCross {
    fn name(&self) -> &'static str {
        "sma_cross"
    }

    fn on_bar(&mut self, bar: &Bar) -> Option<Target> {
        let (fast, slow) = (self.fast, self.slow);
        self.series.entry(bar.symbol).or_default();
        let s = self.series.get_mut(&bar.symbol)?;
        s.closes.push_back(bar.close);
        s.sum_fast += bar.close;
        s.sum_slow += bar.close;
        let n = s.closes.len();
        if n > fast {
            s.sum_fast -= s.closes[n - 1 - fast];
        }
        if n > slow {
            if let Some(old) = s.closes.pop_front() {
                s.sum_slow -= old;
            }
        }
        if s.closes.len() < slow {
            return None;
        }
        let now = compare_means(s.sum_fast, fast, s.sum_slow, slow);
        let prev = s.prev.replace(now as i8).map(|p| p.cmp(&0));
        match (prev?, now) {
            (Ordering::Less | Ordering::Equal, Ordering::Greater) => Some(Target {
                qty: self.qty,
                reason: "sma_cross up",
            }),
            (Ordering::Greater | Ordering::Equal, Ordering::Less) => Some(Target {
                qty: if self.allow_short {
                    -self.qty
                } else {
                    Decimal::ZERO
                },
                reason: "sma_cross down",
            }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Symbol;
    use crate::time::Timestamp;

    fn bar(i: i64, close: i64) -> Bar {
        let c = Decimal::from(close);
        Bar {
            symbol: Symbol::new("T").unwrap(),
            ts: Timestamp::from_unix_ms(i),
            open: c,
            high: c,
            low: c,
            close: c,
            volume: Decimal::ONE,
        }
    }

    /// Straightforward reference: recompute both SMAs with division at every bar.
    fn reference(closes: &[i64], fast: usize, slow: usize) -> Vec<(usize, bool)> {
        let sma = |t: usize, n: usize| {
            closes[t + 1 - n..=t]
                .iter()
                .map(|c| Decimal::from(*c))
                .sum::<Decimal>()
                / Decimal::from(n)
        };
        let mut out = Vec::new();
        for t in slow..closes.len() {
            let (f0, s0, f1, s1) = (
                sma(t - 1, fast),
                sma(t - 1, slow),
                sma(t, fast),
                sma(t, slow),
            );
            if f0 <= s0 && f1 > s1 {
                out.push((t, true));
            } else if f0 >= s0 && f1 < s1 {
                out.push((t, false));
            }
        }
        out
    }

    #[test]
    fn matches_the_textbook_definition() {
        let mut seed = 12345u64;
        let mut closes = vec![100i64];
        for _ in 0..2000 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let step = (seed >> 60) as i64 - 7; // -7..=8, with exact ties now and then
            closes.push((closes.last().unwrap() + step).max(1));
        }
        for (fast, slow) in [(1, 2), (3, 7), (10, 30)] {
            let mut s = SmaCross::new(fast, slow, Decimal::ONE, true);
            let got: Vec<(usize, bool)> = closes
                .iter()
                .enumerate()
                .filter_map(|(i, c)| {
                    s.on_bar(&bar(i as i64, *c))
                        .map(|t| (i, t.qty > Decimal::ZERO))
                })
                .collect();
            assert_eq!(
                got,
                reference(&closes, fast, slow),
                "fast {fast} slow {slow}"
            );
            assert!(got.len() > 20);
        }
    }

    #[test]
    fn long_only_exits_to_flat() {
        let mut s = SmaCross::new(1, 2, Decimal::TEN, false);
        let targets: Vec<Decimal> = [5, 4, 6, 3]
            .iter()
            .enumerate()
            .filter_map(|(i, c)| s.on_bar(&bar(i as i64, *c)))
            .map(|t| t.qty)
            .collect();
        assert_eq!(targets, vec![Decimal::TEN, Decimal::ZERO]);
    }
}

#[cfg(test)]
mod compare_tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn comparing_means_on_mantissas_agrees_with_decimal(
            ma in -1_000_000_000i64..1_000_000_000,
            mb in -1_000_000_000i64..1_000_000_000,
            sa in 0u32..6,
            sb in 0u32..6,
            a in 1usize..500,
            b in 1usize..500,
        ) {
            let (x, y) = (Decimal::new(ma, sa), Decimal::new(mb, sb));
            let exact = (x * Decimal::from(b)).cmp(&(y * Decimal::from(a)));
            prop_assert_eq!(compare_means(x, a, y, b), exact);
        }
    }
}
