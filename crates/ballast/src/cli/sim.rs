//! `ballast sim`: the deterministic whole-system simulator (`ballast-sim`) over one seed or
//! many. Prints seeds per second and every failure with its one-line reproduction and its
//! minimised trace; exits 1 if any seed failed.

use super::err;
use super::out;
use std::time::Instant;

use anyhow::bail;
use ballast_sim::plan::Plan;
use ballast_sim::{Options, Outcome, market::DAY_MINUTES, run, shrink};
use clap::Args;

use crate::exit::{self, Exit};

/// Seeds one `ballast sim --seeds` runs at most.
const MAX_SEEDS: u64 = 100_000_000;
/// Failures printed in full (the rest are counted).
const MAX_FAILURES_SHOWN: usize = 10;

#[derive(Debug, Args)]
pub struct SimArgs {
    /// Run this one seed and print its trace.
    #[arg(long, conflicts_with = "seeds")]
    seed: Option<u64>,
    /// Run this many seeds, from `--from` on.
    #[arg(long)]
    seeds: Option<u64>,
    /// The first seed of `--seeds`.
    #[arg(long, default_value_t = 0)]
    from: u64,
    /// Minutes of the trading day to run (at most 390).
    #[arg(long, default_value_t = DAY_MINUTES)]
    minutes: usize,
    /// With `--seed`: this fault plan instead of the seed's own (the form a failure's
    /// reproduction line prints, e.g. `12:crash.2,40:lost.1`; `none` for no fault).
    #[arg(long, requires = "seed")]
    plan: Option<String>,
}

pub fn sim(a: &SimArgs) -> anyhow::Result<Exit> {
    if a.minutes == 0 || a.minutes > DAY_MINUTES {
        bail!(
            "--minutes {} is outside 1..={DAY_MINUTES} (a trading day has {DAY_MINUTES} one-minute bars)",
            a.minutes
        );
    }
    let plan = match &a.plan {
        Some(text) => Some(Plan::parse(text).map_err(|e| anyhow::anyhow!("--plan: {e}"))?),
        None => None,
    };
    let opts = Options {
        minutes: a.minutes,
        plan,
    };
    match (a.seed, a.seeds) {
        (Some(seed), _) => Ok(one(seed, &opts)),
        (None, Some(n)) => many(a.from, n, &opts),
        (None, None) => many(a.from, 100, &opts),
    }
}

fn one(seed: u64, opts: &Options) -> Exit {
    let o = run(seed, opts);
    for line in &o.trace {
        out!("{line}");
    }
    out!(
        "seed {seed}: {} minutes, {} records, {} orders, {} fills, {} engine deaths, {} faults planned",
        o.figures.minutes,
        o.figures.records,
        o.figures.orders,
        o.figures.fills,
        o.figures.deaths,
        o.plan.faults.len()
    );
    if o.failure.is_some() {
        failed(&o);
        return exit::FAILURE;
    }
    out!("seed {seed}: every invariant held");
    exit::OK
}

fn many(from: u64, n: u64, opts: &Options) -> anyhow::Result<Exit> {
    if n == 0 || n > MAX_SEEDS {
        bail!("--seeds {n} is outside 1..={MAX_SEEDS}");
    }
    let started = Instant::now();
    let mut failures = 0usize;
    let mut deaths = 0u64;
    let mut fills = 0u64;
    for seed in from..from.saturating_add(n) {
        let o = run(seed, opts);
        deaths += o.figures.deaths;
        fills += o.figures.fills;
        if o.failure.is_some() {
            failures += 1;
            if failures <= MAX_FAILURES_SHOWN {
                failed(&o);
            }
        }
    }
    let secs = started.elapsed().as_secs_f64().max(1e-9);
    out!(
        "{n} seeds ({from}..{}) in {secs:.1} s: {:.1} seeds/s; {fills} fills, {deaths} engine deaths; {failures} failed",
        from.saturating_add(n),
        n as f64 / secs
    );
    if failures > MAX_FAILURES_SHOWN {
        out!(
            "({} more failures not shown)",
            failures - MAX_FAILURES_SHOWN
        );
    }
    Ok(if failures > 0 {
        exit::FAILURE
    } else {
        exit::OK
    })
}

fn failed(o: &Outcome) {
    let small = shrink(o);
    let f = small.failure.as_ref().or(o.failure.as_ref());
    err!(
        "seed {} FAILED at minute {}:",
        o.seed,
        f.map_or(0, |f| f.minute)
    );
    for p in f.map(|f| f.problems.as_slice()).unwrap_or_default() {
        err!("  {p}");
    }
    err!("  reproduce: {}", small.reproduce());
    err!("  minimised trace ({} faults):", small.plan.faults.len());
    for line in &small.trace {
        err!("    {line}");
    }
}
