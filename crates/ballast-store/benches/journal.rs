//! Journal benchmarks (run with `cargo bench -p ballast-store --bench journal`).
//!
//! Prints, measured in the same run on the same disk (the target directory):
//! - the raw `write + fdatasync` rate of the disk (the anchor);
//! - durable appends per second with one writer, and its ratio to the anchor (target ≥ 0.8);
//! - durable appends per second with 8 concurrent appenders (group commit), and its ratio to
//!   the single writer (target ≥ 5);
//! - recovery: open + validate + replay of a 1,000,000-record journal without a snapshot
//!   (target ≥ 1,000,000 records/s).
//!
//! Then the same operations run under criterion for its statistics.

#![forbid(unsafe_code)]

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ballast_store::journal::{JournalOptions, OpenPolicy};
use ballast_store::record::RecordRef;
use ballast_store::{Journal, Layout, RealStorage, SystemClock};
use criterion::{Criterion, Throughput};
use serde::Serialize;

#[derive(Serialize)]
struct Body {
    symbol: &'static str,
    qty: &'static str,
    n: u64,
}

const BODY: Body = Body {
    symbol: "AAPL",
    qty: "10",
    n: 0,
};

fn open(dir: &Path) -> Journal {
    let layout = Layout::new(dir);
    Journal::open(
        Arc::new(RealStorage),
        &layout,
        &layout.engine_journal(),
        Arc::new(SystemClock),
        JournalOptions::default(),
        OpenPolicy::RefuseDangerous,
        &mut |_| Ok(()),
    )
    .expect("open journal")
    .0
}

fn record_len() -> usize {
    let mut v = Vec::new();
    ballast_store::record::encode(
        &mut v,
        1,
        ballast_core::Timestamp::EPOCH,
        "order.intent",
        &serde_json::to_vec(&BODY).unwrap(),
    );
    v.len()
}

/// Raw disk anchor: append `len` bytes and fdatasync, `n` times.
fn raw_sync(dir: &Path, n: u64, len: usize) -> Duration {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("raw.bin"))
        .unwrap();
    let buf = vec![b'x'; len];
    let t = Instant::now();
    for _ in 0..n {
        f.write_all(&buf).unwrap();
        f.sync_data().unwrap();
    }
    t.elapsed()
}

fn single(j: &Journal, n: u64) -> Duration {
    let t = Instant::now();
    for _ in 0..n {
        j.append("order.intent", &BODY).unwrap();
    }
    t.elapsed()
}

fn concurrent(j: &Journal, threads: u64, per_thread: u64) -> Duration {
    let t = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                for _ in 0..per_thread {
                    j.append("order.intent", &BODY).unwrap();
                }
            });
        }
    });
    t.elapsed()
}

/// Calls until `budget` has passed (at least `min` calls); returns calls per second.
fn rate(budget: Duration, min: u64, batch: u64, mut f: impl FnMut(u64) -> Duration) -> f64 {
    let mut n = 0u64;
    let mut spent = Duration::ZERO;
    while spent < budget || n < min {
        spent += f(batch);
        n += batch;
    }
    n as f64 / spent.as_secs_f64()
}

const ROUNDS: usize = 7;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn build_big_journal(dir: &Path, records: u64) {
    let j = open(dir);
    let batch: Vec<(&str, &Body)> = (0..10_000).map(|_| ("order.intent", &BODY)).collect();
    for _ in 0..records / 10_000 {
        j.append_many(batch.iter().copied()).unwrap();
    }
}

fn replay(dir: &Path) -> (u64, Duration) {
    let layout = Layout::new(dir);
    let mut count = 0u64;
    let mut sum = 0u64;
    let t = Instant::now();
    let (_j, report) = Journal::open(
        Arc::new(RealStorage),
        &layout,
        &layout.engine_journal(),
        Arc::new(SystemClock),
        JournalOptions::default(),
        OpenPolicy::RefuseDangerous,
        &mut |r: &RecordRef<'_>| {
            count += 1;
            sum = sum.wrapping_add(r.seq ^ r.body.get().len() as u64);
            Ok(())
        },
    )
    .unwrap();
    let elapsed = t.elapsed();
    assert_eq!(report.scan.records, count);
    std::hint::black_box(sum);
    (count, elapsed)
}

fn main() {
    let base = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let len = record_len();
    let budget = Duration::from_millis(700);

    // Warm the disk path once. The disk's speed drifts over seconds, so the three rates are
    // measured in interleaved rounds and each ratio is taken within a round (median shown).
    raw_sync(base.path(), 50, len);
    let j1 = open(&base.path().join("single"));
    let j8 = open(&base.path().join("eight"));
    let (mut raws, mut ones, mut eights) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        raws.push(rate(budget, 100, 100, |n| raw_sync(base.path(), n, len)));
        ones.push(rate(budget, 100, 100, |n| single(&j1, n)));
        eights.push(rate(budget, 800, 800, |n| concurrent(&j8, 8, n / 8)));
    }
    let one_vs_raw = median(ones.iter().zip(&raws).map(|(a, b)| a / b).collect());
    let eight_vs_one = median(eights.iter().zip(&ones).map(|(a, b)| a / b).collect());
    let (raw, one, eight) = (median(raws), median(ones), median(eights));

    let big = base.path().join("big");
    build_big_journal(&big, 1_000_000);
    let mut runs: Vec<(u64, Duration)> = (0..3).map(|_| replay(&big)).collect();
    runs.sort_by_key(|(_, d)| *d);
    let (records, median) = runs[1];
    let recovery = records as f64 / median.as_secs_f64();

    println!();
    println!(
        "journal benchmark ({len}-byte records, disk of {})",
        env!("CARGO_TARGET_TMPDIR")
    );
    println!("  raw write+fdatasync (anchor)      {raw:>12.0} /s");
    println!(
        "  durable appends, 1 writer         {one:>12.0} /s   ratio to raw sync   {one_vs_raw:.2}  (target >= 0.80)"
    );
    println!(
        "  durable appends, 8 appenders      {eight:>12.0} /s   ratio to 1 writer   {eight_vs_one:.2}  (target >= 5.00)"
    );
    println!(
        "  recovery: open + replay {records} records in {:.3} s = {recovery:>10.0} records/s   ratio to target {:.2}  (target >= 1,000,000/s)",
        median.as_secs_f64(),
        recovery / 1e6
    );
    println!();

    let mut c = Criterion::default()
        .configure_from_args()
        .sample_size(10)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    let mut g = c.benchmark_group("journal");
    g.throughput(Throughput::Elements(1));
    g.bench_function("raw_fdatasync", |b| {
        b.iter_custom(|n| raw_sync(base.path(), n, len))
    });
    g.bench_function("append_1_writer", |b| b.iter_custom(|n| single(&j1, n)));
    g.throughput(Throughput::Elements(8));
    g.bench_function("append_8_appenders_x8", |b| {
        b.iter_custom(|n| concurrent(&j8, 8, n))
    });
    g.finish();
    let mut g = c.benchmark_group("recovery");
    g.throughput(Throughput::Elements(1_000_000));
    g.sample_size(10);
    g.bench_function("open_replay_1m", |b| {
        b.iter_custom(|n| (0..n).map(|_| replay(&big).1).sum())
    });
    g.finish();
    c.final_summary();
}
