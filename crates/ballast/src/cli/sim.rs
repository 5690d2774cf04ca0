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
    /// Threads running seeds side by side (default: the machine's cores; at most 64).
    #[arg(long)]
    jobs: Option<usize>,
}

/// Threads at most.
const MAX_JOBS: usize = 64;

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
        (None, n) => {
            let jobs = a.jobs.unwrap_or_else(|| {
                std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
            });
            if jobs == 0 || jobs > MAX_JOBS {
                bail!("--jobs {jobs} is outside 1..={MAX_JOBS}");
            }
            many(a.from, n.unwrap_or(100), jobs, &opts)
        }
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

fn many(from: u64, n: u64, jobs: usize, opts: &Options) -> anyhow::Result<Exit> {
    if n == 0 || n > MAX_SEEDS {
        bail!("--seeds {n} is outside 1..={MAX_SEEDS}");
    }
    let started = Instant::now();
    let jobs = jobs.min(usize::try_from(n).unwrap_or(usize::MAX)).max(1);
    // Seed `from + i` runs on thread `i % jobs`; each keeps its first failures whole and the
    // seeds of at most 100 more (bounded whatever `--seeds` is).
    let results: Vec<Tally> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..jobs)
            .map(|j| {
                scope.spawn(move || {
                    let mut t = Tally::default();
                    let mut i = j as u64;
                    while i < n {
                        t.add(run(from.wrapping_add(i), opts));
                        i += jobs as u64;
                    }
                    t
                })
            })
            .collect();
        // A thread that panicked lost its tally: counted as one failure, said below.
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| Tally {
                    failures: 1,
                    panicked: true,
                    ..Tally::default()
                })
            })
            .collect()
    });
    let secs = started.elapsed().as_secs_f64().max(1e-9);
    let fills: u64 = results.iter().map(|r| r.fills).sum();
    let deaths: u64 = results.iter().map(|r| r.deaths).sum();
    let failures: u64 = results.iter().map(|r| r.failures).sum();
    if results.iter().any(|r| r.panicked) {
        err!(
            "a simulator thread panicked (its message is above): its seeds' results are lost; rerun them with --jobs 1 to find the seed"
        );
    }
    let mut shown: Vec<Outcome> = Vec::new();
    let mut more: Vec<u64> = Vec::new();
    for r in results {
        shown.extend(r.shown);
        more.extend(r.more_seeds);
    }
    shown.sort_by_key(|o| o.seed);
    for o in shown.iter().take(MAX_FAILURES_SHOWN) {
        failed(o);
    }
    more.extend(shown.iter().skip(MAX_FAILURES_SHOWN).map(|o| o.seed));
    more.sort_unstable();
    out!(
        "{n} seeds ({from}..{}) in {secs:.1} s on {jobs} thread(s): {:.1} seeds/s; {fills} fills, {deaths} engine deaths; {failures} failed",
        from.saturating_add(n),
        n as f64 / secs
    );
    if failures > MAX_FAILURES_SHOWN as u64 {
        let seeds: Vec<String> = more.iter().take(100).map(u64::to_string).collect();
        out!(
            "({} more failures not shown; seeds among them: {})",
            failures - MAX_FAILURES_SHOWN as u64,
            seeds.join(", ")
        );
    }
    Ok(if failures == 0 {
        exit::OK
    } else {
        exit::FAILURE
    })
}

/// One thread's runs: totals, its first failures whole, the seeds of some more.
#[derive(Default)]
struct Tally {
    fills: u64,
    deaths: u64,
    failures: u64,
    shown: Vec<Outcome>,
    more_seeds: Vec<u64>,
    panicked: bool,
}

impl Tally {
    fn add(&mut self, o: Outcome) {
        self.fills += o.figures.fills;
        self.deaths += o.figures.deaths;
        if o.failure.is_none() {
            return;
        }
        self.failures += 1;
        if self.shown.len() < MAX_FAILURES_SHOWN {
            self.shown.push(o);
        } else if self.more_seeds.len() < 100 {
            self.more_seeds.push(o.seed);
        }
    }
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
