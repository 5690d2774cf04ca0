//! CSV row parsing, per row and in MB/s, on one-minute bars of the kind `bench/gen_bars.py`
//! writes (the first stage of a backtest's load). Run with
//! `cargo bench -p ballast-core --bench csv`.

#![forbid(unsafe_code)]

use std::hint::black_box;

use ballast_core::market::csv::RowParser;
use criterion::{Criterion, Throughput};

fn rows(n: usize) -> Vec<String> {
    let mut price = 10_000i64;
    (0..n)
        .map(|i| {
            let (open, close) = (price, price + (i as i64 * 7919 % 41) - 20);
            price = close.max(100);
            let (lo, hi) = (open.min(close) - 3, open.max(close) + 5);
            format!(
                "SYN,2020-01-{:02} {:02}:{:02}:00,{}.{:02},{}.{:02},{}.{:02},{}.{:02},{}",
                2 + i / 1440 % 28,
                i / 60 % 24,
                i % 60,
                open / 100,
                open % 100,
                hi / 100,
                hi % 100,
                lo / 100,
                lo % 100,
                close.max(100) / 100,
                close.max(100) % 100,
                1000 + i % 5000
            )
        })
        .collect()
}

fn main() {
    let lines = rows(10_000);
    let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
    let mut c = Criterion::default().configure_from_args();
    let mut g = c.benchmark_group("csv");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("parse 10,000 rows", |b| {
        b.iter(|| {
            let mut p = RowParser::default();
            for (i, l) in lines.iter().enumerate() {
                black_box(p.parse(i as u64 + 2, l.as_bytes()).ok());
            }
        })
    });
    g.finish();
    c.final_summary();
}
