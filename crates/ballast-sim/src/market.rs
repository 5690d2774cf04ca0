//! The simulated market: a trading day of 1-minute bars over three symbols, a seeded random
//! walk in whole cents; now and then a thin bar (volume so low that an order fills in parts).

use ballast_core::domain::Symbol;
use ballast_core::market::Bar;
use ballast_core::time::Timestamp;
use rust_decimal::Decimal;

/// The symbols traded.
pub const SYMBOLS: [&str; 3] = ["AAA", "BBB", "CCC"];
/// Minutes of a trading day (09:30 to 16:00 New York).
pub const DAY_MINUTES: usize = 390;
/// 2026-03-02 14:30 UTC, the day's first bar.
pub const DAY_START_MS: i64 = 1_772_461_800_000;

/// The day's bars: `minutes[m][k]` is symbol `k`'s bar of minute `m`.
pub fn day(seed: u64, minutes: usize) -> Vec<Vec<Bar>> {
    let mut rng = crate::rng::seeded(seed.rotate_left(17) ^ 0x5EED);
    let mut cents: Vec<i64> = SYMBOLS
        .iter()
        .map(|_| 5_000 + rng.below(20_000) as i64)
        .collect();
    let symbols: Vec<Symbol> = SYMBOLS.iter().filter_map(|s| Symbol::new(s).ok()).collect();
    (0..minutes)
        .map(|m| {
            symbols
                .iter()
                .zip(cents.iter_mut())
                .map(|(symbol, c)| {
                    let open = *c;
                    let step = rng.below(61) as i64 - 30;
                    *c = (*c + step * (1 + *c / 10_000)).max(100);
                    let (o, cl) = (Decimal::new(open, 2), Decimal::new(*c, 2));
                    let wick = Decimal::new(rng.below(20) as i64, 2);
                    let volume = if rng.chance(30) {
                        Decimal::from(10 + rng.below(90))
                    } else {
                        Decimal::from(100_000 + rng.below(900_000))
                    };
                    Bar {
                        symbol: *symbol,
                        ts: Timestamp::from_unix_ms(DAY_START_MS + m as i64 * 60_000),
                        open: o,
                        high: o.max(cl) + wick,
                        low: (o.min(cl) - wick).max(Decimal::new(1, 2)),
                        close: cl,
                        volume,
                    }
                })
                .collect()
        })
        .collect()
}
