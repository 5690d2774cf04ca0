//! `ballast chaos [--scenario NAME]… [--json] [--seed N] [--report FILE]`: the chaos
//! scenarios, each against a throw-away paper instance (see [`crate::chaos`]); a table with a
//! progress bar on a terminal (plain lines otherwise), the JSON report, exit 1 if any
//! scenario fails.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use super::{err, out};
use crate::chaos::{self, report, runner, scenario};
use crate::exit::{self, Exit};

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ChaosArgs {
    /// Run only this scenario (repeatable); the default set without it. `--list` names them.
    #[arg(long = "scenario", value_name = "NAME")]
    scenarios: Vec<String>,
    /// The JSON report on standard output instead of the table.
    #[arg(long)]
    json: bool,
    /// The seed of the run's random choices (the signal load) [default: from the clock,
    /// printed in the report].
    #[arg(long)]
    seed: Option<u64>,
    /// Also write the JSON report to FILE.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Each scenario ends, failed, after this many seconds.
    #[arg(long, default_value_t = 120, value_name = "SECS")]
    timeout_secs: u64,
    /// List the scenarios (name, fault, expected response) and run nothing.
    #[arg(long)]
    list: bool,
    #[command(subcommand)]
    command: Option<ChaosCommand>,
}

#[derive(Debug, clap::Subcommand)]
pub enum ChaosCommand {
    /// The kill -9 soak (bench/soak.sh).
    #[command(hide = true)]
    Soak(chaos::soak::SoakArgs),
}

pub fn run(args: &ChaosArgs) -> anyhow::Result<Exit> {
    if let Some(ChaosCommand::Soak(soak)) = &args.command {
        return chaos::soak::soak(soak);
    }
    if args.list {
        for s in scenario::SCENARIOS {
            let set = if s.in_default_set || chaos::IN_PROCESS_SEAMS {
                ""
            } else {
                "  (declared; not run yet: its expected response is not settled)"
            };
            out!("{:<18} {} → {}{set}", s.name, s.fault, s.expect.said());
        }
        return Ok(exit::OK);
    }
    if args.timeout_secs == 0 {
        err!(
            "ballast chaos: --timeout-secs 0 leaves no time for any scenario\n    help: 120 is the default"
        );
        return Ok(exit::CONFIG);
    }
    let selftest = std::env::var_os(scenario::SELFTEST_ENV).is_some();
    let chosen = match scenario::select(&args.scenarios, selftest, chaos::IN_PROCESS_SEAMS) {
        Ok(c) => c,
        Err(e) => {
            err!("ballast chaos: {e}");
            return Ok(exit::CONFIG);
        }
    };
    let seed = args.seed.unwrap_or_else(clock_seed);
    let outcomes = run_all(&chosen, seed, Duration::from_secs(args.timeout_secs));
    let r = report::build(seed, &outcomes, chaos::IN_PROCESS_SEAMS);
    let json = serde_json::to_string_pretty(&r)?;
    if let Some(path) = &args.report
        && let Err(e) = std::fs::write(path, format!("{json}\n"))
    {
        err!(
            "ballast chaos: cannot write the report to {}: {e}\n    help: name a writable file with --report",
            path.display()
        );
        return Ok(exit::FAILURE);
    }
    if args.json {
        out!("{json}");
    } else {
        out!("{}", report::table(&r));
    }
    if r.passed {
        Ok(exit::OK)
    } else {
        let failed: Vec<&str> = r
            .scenarios
            .iter()
            .filter(|s| s.verdict != "pass")
            .map(|s| s.name)
            .collect();
        err!(
            "ballast chaos: {} scenario(s) failed: {} (seed {seed}; `ballast chaos --scenario NAME --seed {seed}` runs one again)",
            failed.len(),
            failed.join(", ")
        );
        Ok(exit::FAILURE)
    }
}

/// Each scenario in turn (a seed of its own derived from the run's), with a progress bar on
/// a terminal and a line per scenario on stderr otherwise.
fn run_all(chosen: &[scenario::Scenario], seed: u64, timeout: Duration) -> Vec<runner::Outcome> {
    let bar = std::io::stderr().is_terminal().then(|| {
        let pb = indicatif::ProgressBar::new(chosen.len() as u64);
        pb.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg} {elapsed}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        pb
    });
    let mut outcomes = Vec::new();
    for (i, s) in chosen.iter().enumerate() {
        match &bar {
            Some(pb) => pb.set_message(s.name),
            None => err!("chaos: {} ({}/{}) …", s.name, i + 1, chosen.len()),
        }
        let o = runner::run(s, seed.wrapping_add(i as u64), timeout);
        let said = if o.verdict.pass { "pass" } else { "FAIL" };
        match &bar {
            Some(pb) => {
                pb.println(format!("{} {said} ({} s)", s.name, o.elapsed_ms / 1000));
                pb.inc(1);
            }
            None => err!("chaos: {} {said} in {} s", s.name, o.elapsed_ms / 1000),
        }
        outcomes.push(o);
    }
    if let Some(pb) = bar {
        pb.finish_and_clear();
    }
    outcomes
}

/// A seed from the wall clock (printed in the report, so the run can be repeated).
fn clock_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
