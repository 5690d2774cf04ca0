//! `ballast engine --standalone` (and, until the supervisor lands, `ballast run`): the trading
//! engine in the foreground. Logs go to stderr; Ctrl-C or SIGTERM stops it cleanly (a final
//! snapshot is written).

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use ballast_engine::{Options, run};

use super::{ConfigArg, DataDirArg};
use crate::exit::{self, Exit};
use crate::settings;

/// Chaos hook (paper mode only): crash right after this journal seq is durable.
pub const CRASH_ENV: &str = "BALLAST_CHAOS_CRASH_AFTER_SEQ";
/// Chaos (paper only): lose the paper venue's reply to one send in this many.
pub const LOST_REPLY_ENV: &str = "BALLAST_CHAOS_LOST_REPLY_EVERY";

#[derive(Debug, clap::Args)]
pub struct EngineArgs {
    /// Run without a Ballast supervisor (systemd, Kubernetes or a terminal supervises it).
    #[arg(long)]
    pub standalone: bool,
    #[command(flatten)]
    pub config: ConfigArg,
    #[command(flatten)]
    pub data_dir: DataDirArg,
    /// Stop after this many bars in total (the journal's included).
    #[arg(long, value_name = "N")]
    pub max_bars: Option<u64>,
    /// Bars per second, overriding `[feed] bars_per_second` (0 = as fast as possible).
    #[arg(long, value_name = "N")]
    pub bars_per_second: Option<u32>,
}

pub fn engine(a: &EngineArgs) -> anyhow::Result<Exit> {
    if !a.standalone {
        eprintln!(
            "ballast: `ballast engine` is started by the supervisor, which is not part of this build yet; \
             run it with --standalone (or use `ballast run`)"
        );
        return Ok(exit::FAILURE);
    }
    foreground(&a.config, &a.data_dir, a.max_bars, a.bars_per_second, false)
}

/// Run the engine in this process until Ctrl-C / SIGTERM (or `max_bars`). `as_run`: started by
/// `ballast run`, which honours `[engine] enabled` and says what it cannot run yet.
pub fn foreground(
    config: &ConfigArg,
    data_dir: &DataDirArg,
    max_bars: Option<u64>,
    bars_per_second: Option<u32>,
    as_run: bool,
) -> anyhow::Result<Exit> {
    let cfg = match settings::load(config.config.as_deref()) {
        Ok(c) => c,
        Err(errors) => {
            eprintln!("{errors}");
            return Ok(exit::CONFIG);
        }
    };
    if as_run && !cfg.services.is_empty() {
        eprintln!(
            "ballast run: {} [[services]] declared; the supervisor that runs them is not part of this build yet, so they are not started",
            cfg.services.len()
        );
    }
    if as_run && !cfg.engine.enabled {
        eprintln!(
            "ballast run: [engine] enabled = false and this build has no supervisor for [[services]]: nothing to run"
        );
        return Ok(exit::FAILURE);
    }
    if cfg.general.mode == ballast_core::config::Mode::Live {
        // Principle 1: live only when asked twice, with credentials and a clean reconciliation.
        // This build has only the paper broker, so it cannot honour a live configuration.
        eprintln!(
            "ballast: [general] mode = \"live\" needs --live, broker credentials and the Alpaca broker, which this \
             build does not have; nothing was started. Use mode = \"paper\"."
        );
        return Ok(exit::CONFIG);
    }
    let dir = settings::data_dir(data_dir.data_dir.as_deref(), Some(&cfg));
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop))?;
    }
    let mut log =
        |line: &str| eprintln!("{} engine: {line}", ballast_store::SystemClock.now_string());
    log(&format!(
        "starting: mode {}, data directory {}, {} feed of {}",
        cfg.general.mode.as_str(),
        dir.display(),
        cfg.feed.kind.as_str(),
        cfg.feed
            .symbols
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(",")
    ));
    let crash_after_seq = match std::env::var(CRASH_ENV) {
        Ok(v) => Some(
            v.trim()
                .parse::<u64>()
                .map_err(|_| anyhow::anyhow!("{CRASH_ENV}={v:?} is not a journal seq"))?,
        ),
        Err(_) => None,
    };
    let lost_reply_every = match std::env::var(LOST_REPLY_ENV) {
        Ok(v) => Some(
            v.trim()
                .parse::<u32>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "{LOST_REPLY_ENV}={v:?} must be a whole number of sends, at least 1"
                    )
                })?,
        ),
        Err(_) => None,
    };
    let opts = Options {
        max_bars,
        bars_per_second,
        crash_after_seq,
        lost_reply_every,
        ..Options::default()
    };
    match run(&cfg, &dir, &opts, &stop, &mut log) {
        Ok(report) => {
            let s = &report.state;
            println!(
                "engine stopped after {} bars (journal seq {}): equity {} (cash {}), {} signals, {} orders, {} fills, rejections {:?}",
                report.bars,
                report.last_seq,
                s.portfolio.equity().round_dp(2),
                s.portfolio.cash.round_dp(2),
                s.stats.signals,
                s.stats.orders,
                s.stats.fills,
                s.stats.rejections
            );
            let t = &s.shadow.totals;
            println!(
                "shadow: approved signals made {} over {} closed trades; rejected signals would have made {} over {} ({} for the guard's rejections)",
                t.approved_pnl.round_dp(2),
                t.approved_trades,
                t.rejected_pnl.round_dp(2),
                t.rejected_trades,
                if t.rejected_pnl > rust_decimal::Decimal::ZERO {
                    "a cost"
                } else {
                    "a saving or nothing"
                }
            );
            Ok(exit::OK)
        }
        Err(e) => {
            eprintln!("ballast: engine: {e}");
            Ok(match e {
                ballast_engine::EngineError::Recover(_) => exit::DANGEROUS,
                _ => exit::FAILURE,
            })
        }
    }
}
