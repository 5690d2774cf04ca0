//! The backtest's run (the engine over bars already in memory, `sma_cross` 10/30, guard off
//! and on), per bar — the part of `bench/backtest.sh` that is the engine's. Run with
//! `cargo bench -p ballast-core --bench backtest`.

#![forbid(unsafe_code)]

use std::hint::black_box;

use ballast_core::backtest::Backtest;
use ballast_core::domain::Symbol;
use ballast_core::market::Bar;
use ballast_core::time::Timestamp;
use criterion::{Criterion, Throughput};
use rust_decimal::Decimal;

/// A deterministic one-minute walk in cents.
fn bars(n: usize) -> Vec<Bar> {
    let sym = Symbol::new("SYN").unwrap_or_else(|e| panic!("{e}"));
    let mut price = 10_000i64;
    let mut x = 0x2545_f491_4f6c_dd1du64;
    (0..n)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let open = price;
            let close = (open + (x % 41) as i64 - 20).max(100);
            price = close;
            let d = |c: i64| Decimal::new(c, 2);
            Bar {
                symbol: sym,
                ts: Timestamp::from_unix_ms(1_577_957_400_000 + i as i64 * 60_000),
                open: d(open),
                high: d(open.max(close) + 3),
                low: d(open.min(close) - 3),
                close: d(close),
                volume: Decimal::from(1000 + (x % 5000) as i64),
            }
        })
        .collect()
}

fn main() {
    let n = 100_000;
    let data = bars(n);
    let mut config = ballast_core::config::builtin().unwrap_or_else(|e| panic!("{e:?}"));
    config.feed.symbols = vec![data[0].symbol];
    config.strategy.fast = 10;
    config.strategy.slow = 30;
    config.strategy.qty = Decimal::from(10);
    let mut c = Criterion::default().configure_from_args().sample_size(20);
    let mut g = c.benchmark_group("backtest");
    g.throughput(Throughput::Elements(n as u64));
    for (name, guard) in [
        ("run 100,000 bars, guard off", false),
        ("run 100,000 bars, guard on", true),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut bt = Backtest::new(&config, guard, n);
                for bar in &data {
                    black_box(bt.on_bar(bar).ok());
                }
                black_box(bt.summary())
            })
        });
    }
    g.finish();
    c.final_summary();
}
