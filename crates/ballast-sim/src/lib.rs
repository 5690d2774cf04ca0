//! # ballast-sim — the deterministic whole-system simulator (issue 15, item 3)
//!
//! One seeded scheduler with a simulated clock runs a trading day of 1-minute bars over three
//! symbols through the real code: the engine core (`EngineState` and its pass, as
//! `ballast-engine`'s runtime drives it, without threads or processes), the embedded paper
//! venue with faults in front of it (lost and delayed answers, rejects, 429s, schema drift,
//! partial fills on thin bars), the journal and snapshots of `ballast-store` on `SimStorage`
//! (ENOSPC, EIO, torn writes, fsync failure; crashes restarted from the images a power cut
//! leaves, recovered by the engine's own recovery), and the supervisor's health and policy
//! cores (a stale feed, a failed journal; the kill switch and `ballast resume` as operator
//! actions). After every minute the ledger invariants ([`ballast_core::ledger`]) are checked
//! against the engine's state, with replay, and that no halt was left without an operator; at
//! the end the journal is read back from the simulated disk and checked whole.
//!
//! A seed gives the day's bars and its fault plan ([`plan::Plan::from_seed`]); a failing run
//! is shrunk ([`shrink`]) to the fewest faults and minutes that still fail, and printed with a
//! one-line reproduction command. It is a crate of its own because it drives `ballast-store`
//! (the core may not) and is not part of any runtime.

#![forbid(unsafe_code)]

pub mod market;
mod minute;
pub mod plan;
mod rng;
#[cfg(test)]
mod tests;
mod world;

use ballast_core::config::{self, Config};
use ballast_core::domain::Symbol;
use ballast_core::time::Timestamp;
use rust_decimal::Decimal;

use crate::market::{DAY_MINUTES, DAY_START_MS, SYMBOLS};
use crate::plan::{Fault, Plan};

/// What one run counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Figures {
    pub minutes: u64,
    pub records: u64,
    pub fills: u64,
    pub orders: u64,
    pub snapshots: u64,
    pub starts: u64,
    pub deaths: u64,
    pub restarts: u64,
    pub disk_faults: u64,
    pub lost_replies: u64,
    pub rejects: u64,
    pub rate_limited: u64,
    pub schema_drifts: u64,
    pub kills: u64,
    pub resumes: u64,
}

/// How a run goes.
#[derive(Debug, Clone)]
pub struct Options {
    /// Minutes of the day to run (a full day: [`DAY_MINUTES`]).
    pub minutes: usize,
    /// The fault plan; `None`: the seed's own.
    pub plan: Option<Plan>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            minutes: DAY_MINUTES,
            plan: None,
        }
    }
}

/// The first minute that broke an invariant, and what broke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub minute: usize,
    pub problems: Vec<String>,
}

/// One run's result.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub seed: u64,
    pub minutes: usize,
    pub plan: Plan,
    pub failure: Option<Failure>,
    pub figures: Figures,
    /// What happened, minute by minute (bounded).
    pub trace: Vec<String>,
}

impl Outcome {
    /// The one-line command that runs exactly this again.
    pub fn reproduce(&self) -> String {
        format!(
            "ballast sim --seed {} --minutes {} --plan {}",
            self.seed, self.minutes, self.plan
        )
    }
}

/// The configuration every run trades under: the built-in paper one, three symbols, a quick
/// crossover so that a day trades often.
pub fn sim_config() -> Config {
    let mut cfg =
        config::builtin().unwrap_or_else(|_| unreachable!("the built-in configuration is valid"));
    cfg.strategy.fast = 3;
    cfg.strategy.slow = 8;
    cfg.strategy.allow_short = false;
    cfg.strategy.qty = Decimal::from(10);
    // A losing streak would pause a random walk's trading for the day: the guard's other
    // checks stay as configured.
    cfg.guard.stop_loss_streak = 1_000;
    cfg.feed.symbols = SYMBOLS.iter().filter_map(|s| Symbol::new(s).ok()).collect();
    cfg
}

/// Run seed `seed`.
pub fn run(seed: u64, opts: &Options) -> Outcome {
    let minutes = opts.minutes.clamp(1, DAY_MINUTES);
    let plan = opts
        .plan
        .clone()
        .unwrap_or_else(|| Plan::from_seed(seed, minutes));
    let bars = market::day(seed, minutes);
    let start = Timestamp::from_unix_ms(DAY_START_MS);
    let mut w = world::World::new(sim_config(), seed, start);
    let mut o = minute::Outside::new(start);
    let mut failure = None;
    for (m, bars) in bars.iter().enumerate() {
        let now = Timestamp::from_unix_ms(DAY_START_MS + m as i64 * 60_000);
        let faults: Vec<Fault> = plan.at(m).collect();
        let was_killed = w.state.controls.kill_switch.is_some();
        let was_shutdown = w.state.policy() == ballast_core::policy::Policy::EmergencyShutdown;
        minute::minute(&mut w, &mut o, m, now, bars, &faults);
        minute::check(&mut w, &mut o, was_killed, was_shutdown);
        w.figures.minutes += 1;
        if m + 1 == minutes && o.down.is_none() {
            w.check_disk();
        }
        if !w.problems.is_empty() {
            failure = Some(Failure {
                minute: m,
                problems: std::mem::take(&mut w.problems),
            });
            break;
        }
    }
    w.figures.fills = w.state.stats.fills;
    let rejections: Vec<String> = w
        .state
        .stats
        .rejections
        .iter()
        .map(|(check, n)| format!("{check} {n}"))
        .collect();
    w.say(format!(
        "end: {} targets, {} signals, {} orders, {} fills; guard rejections: {}",
        w.state.stats.targets,
        w.state.stats.signals,
        w.state.stats.orders,
        w.state.stats.fills,
        if rejections.is_empty() {
            "none".to_owned()
        } else {
            rejections.join(", ")
        }
    ));
    w.figures.orders = w.state.stats.orders;
    if w.trace_left_off > 0 {
        w.trace
            .push(format!("({} more trace lines not kept)", w.trace_left_off));
    }
    Outcome {
        seed,
        minutes,
        plan,
        failure,
        figures: w.figures,
        trace: w.trace,
    }
}

/// Runs a shrink tries at most.
pub const MAX_SHRINK_RUNS: usize = 500;

/// The smallest run that still fails, from a failing one: the minutes cut to the failing
/// minute, then each fault dropped while the run still fails (at most [`MAX_SHRINK_RUNS`]
/// runs). A run that does not fail comes back as it is.
pub fn shrink(failed: &Outcome) -> Outcome {
    shrink_by(failed, &mut run)
}

/// [`shrink`] with `run` as the way to run (a test's stand-in for a bug).
pub fn shrink_by(failed: &Outcome, run: &mut dyn FnMut(u64, &Options) -> Outcome) -> Outcome {
    let Some(f) = &failed.failure else {
        return failed.clone();
    };
    let minutes = f.minute + 1;
    let mut plan = Plan {
        faults: failed
            .plan
            .faults
            .iter()
            .copied()
            .filter(|p| usize::from(p.minute) < minutes)
            .collect(),
    };
    let mut best = run(
        failed.seed,
        &Options {
            minutes,
            plan: Some(plan.clone()),
        },
    );
    if best.failure.is_none() {
        return failed.clone();
    }
    let mut runs = 1;
    let mut i = 0;
    while i < plan.faults.len() && runs < MAX_SHRINK_RUNS {
        let mut fewer = plan.clone();
        fewer.faults.remove(i);
        let o = run(
            failed.seed,
            &Options {
                minutes,
                plan: Some(fewer.clone()),
            },
        );
        runs += 1;
        if o.failure.is_some() {
            plan = fewer;
            best = o;
        } else {
            i += 1;
        }
    }
    if let Some(f) = &best.failure {
        let m = f.minute + 1;
        if m < best.minutes {
            let o = run(
                failed.seed,
                &Options {
                    minutes: m,
                    plan: Some(plan.clone()),
                },
            );
            if o.failure.is_some() {
                best = o;
            }
        }
    }
    best
}
