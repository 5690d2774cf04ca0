//! `ballast backtest`: the strategy over a CSV file as fast as possible, on the bars' time.

use super::err;
use super::out;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use ballast_core::backtest::{Backtest, Summary, Trade};
use ballast_core::config::Config;
use ballast_core::domain::Symbol;
use clap::{Args, ValueEnum};
use rust_decimal::Decimal;
use serde::Serialize;

use super::ConfigArg;
use crate::exit::{self, Exit};
use ballast_engine::feed::file as market_file;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StrategyArg {
    SmaCross,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FillArg {
    /// Market orders fill at the next bar's open (± slippage).
    NextOpen,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GuardArg {
    On,
    Off,
}

#[derive(Debug, Args)]
pub struct BacktestArgs {
    /// OHLCV CSV file, plain or gzipped (Ticker,Date,Open,High,Low,Close,Volume,...).
    #[arg(long, value_name = "FILE.csv[.gz]")]
    data: PathBuf,
    /// Only these symbols (comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "A,B")]
    symbols: Vec<String>,
    #[arg(long, value_enum, default_value = "sma-cross")]
    strategy: StrategyArg,
    /// Fast SMA length (bars).
    #[arg(long, default_value_t = 10)]
    fast: usize,
    /// Slow SMA length (bars).
    #[arg(long, default_value_t = 30)]
    slow: usize,
    /// Quantity bought on a cross up.
    #[arg(long, default_value = "10")]
    qty: Decimal,
    /// Long/short instead of long-only.
    #[arg(long)]
    allow_short: bool,
    #[arg(long, value_enum, default_value = "next-open")]
    fill: FillArg,
    /// Fee per fill, basis points of notional.
    #[arg(long, default_value = "0")]
    fee_bps: Decimal,
    /// Slippage of market orders, basis points.
    #[arg(long, default_value = "0")]
    slippage_bps: Decimal,
    /// Largest fraction of a bar's volume one order takes.
    #[arg(long, default_value = "1")]
    participation: Decimal,
    /// Starting cash.
    #[arg(long, default_value = "100000")]
    cash: Decimal,
    /// Check every order with the trade guard, limits from `[guard]` of the configuration.
    #[arg(long, value_enum, default_value = "on")]
    guard: GuardArg,
    #[command(flatten)]
    config: ConfigArg,
    /// Skip malformed rows with a counted warning instead of stopping.
    #[arg(long)]
    skip_bad_rows: bool,
    /// Write the round-trip trades to this CSV file.
    #[arg(long, value_name = "FILE")]
    trades_out: Option<PathBuf>,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Report<'a> {
    data: String,
    strategy: String,
    guard: String,
    symbols: Vec<String>,
    first_bar: Option<String>,
    last_bar: Option<String>,
    skipped_rows: u64,
    summary: &'a Summary,
    load_seconds: f64,
    run_seconds: f64,
    bars_per_second: f64,
}

fn check_args(a: &BacktestArgs) -> anyhow::Result<()> {
    if a.fast == 0 || a.fast >= a.slow {
        bail!(
            "--fast {} must be at least 1 and less than --slow {}",
            a.fast,
            a.slow
        );
    }
    if a.qty <= Decimal::ZERO {
        bail!("--qty {} must be greater than zero", a.qty);
    }
    if a.cash <= Decimal::ZERO {
        bail!("--cash {} must be greater than zero", a.cash);
    }
    if a.fee_bps < Decimal::ZERO || a.slippage_bps < Decimal::ZERO {
        bail!("--fee-bps and --slippage-bps must not be negative");
    }
    if a.participation <= Decimal::ZERO || a.participation > Decimal::ONE {
        bail!(
            "--participation {} must be greater than 0 and at most 1",
            a.participation
        );
    }
    Ok(())
}

pub fn backtest(a: &BacktestArgs) -> anyhow::Result<Exit> {
    check_args(a)?;
    let symbols = a
        .symbols
        .iter()
        .map(|s| Symbol::new(s.trim()).map_err(|e| anyhow::anyhow!("--symbols: {e}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let t0 = Instant::now();
    let loaded = market_file::load(&a.data, &symbols, a.skip_bad_rows)?;
    let load_seconds = t0.elapsed().as_secs_f64();
    for e in &loaded.first_errors {
        err!("warning: skipped {e}");
    }
    if loaded.skipped > 0 {
        err!("warning: {} malformed row(s) skipped", loaded.skipped);
    }
    if loaded.bars.is_empty() {
        bail!(
            "{}: no bars{}",
            a.data.display(),
            if symbols.is_empty() {
                String::new()
            } else {
                " for the requested --symbols".into()
            }
        );
    }
    // The engine the configuration describes, with the command line's strategy and paper
    // broker, trading the symbols of the data.
    let mut config = match a.config.load() {
        Ok(l) => l.config,
        Err(code) => return Ok(code),
    };
    let syms = symbols_in(&loaded.bars);
    with_args(&mut config, a, &syms);
    let guard = match (a.guard, &a.config.config) {
        (GuardArg::Off, _) => "off".to_owned(),
        (GuardArg::On, Some(p)) => format!("on, limits from {}", p.display()),
        (GuardArg::On, None) => "on, built-in limits".to_owned(),
    };
    let mut bt = Backtest::new(&config, a.guard == GuardArg::On, loaded.bars.len());
    let progress = progress_bar(loaded.bars.len());
    let t1 = Instant::now();
    for (i, bar) in loaded.bars.iter().enumerate() {
        bt.on_bar(bar)
            .with_context(|| format!("bar {} of {}", i + 1, a.data.display()))?;
        if i % 65_536 == 0 {
            if let Some(pb) = &progress {
                pb.set_position(i as u64);
            }
        }
    }
    if let Some(pb) = &progress {
        pb.finish_and_clear();
    }
    let summary = bt.summary();
    let run_seconds = t1.elapsed().as_secs_f64();
    let (_, trades) = bt.finish();
    if let Some(path) = &a.trades_out {
        write_trades(path, &trades)?;
    }
    let report = Report {
        data: a.data.display().to_string(),
        strategy: format!(
            "sma_cross(fast {}, slow {}, qty {}{})",
            a.fast,
            a.slow,
            a.qty,
            if a.allow_short { ", long/short" } else { "" }
        ),
        guard,
        symbols: syms.iter().map(Symbol::to_string).collect(),
        first_bar: loaded.bars.first().map(|b| b.ts.to_string()),
        last_bar: loaded.bars.last().map(|b| b.ts.to_string()),
        skipped_rows: loaded.skipped,
        summary: &summary,
        load_seconds,
        run_seconds,
        bars_per_second: summary.bars as f64 / (load_seconds + run_seconds).max(1e-9),
    };
    if a.json {
        out!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_human(&report);
    }
    Ok(exit::OK)
}

/// The symbols of the data, in order (bars come grouped by symbol).
fn symbols_in(bars: &market_file::Bars) -> Vec<Symbol> {
    let mut seen = std::collections::BTreeSet::new();
    let mut last = None;
    for b in bars.iter() {
        if last != Some(b.symbol) {
            last = Some(b.symbol);
            seen.insert(b.symbol);
        }
    }
    seen.into_iter().collect()
}

/// The command line's strategy and paper broker over the configuration, trading `syms`.
fn with_args(config: &mut Config, a: &BacktestArgs, syms: &[Symbol]) {
    match a.strategy {
        StrategyArg::SmaCross => {
            config.strategy.fast = u32::try_from(a.fast).unwrap_or(u32::MAX);
            config.strategy.slow = u32::try_from(a.slow).unwrap_or(u32::MAX);
            config.strategy.qty = a.qty;
            config.strategy.allow_short = a.allow_short;
        }
    }
    config.feed.symbols = syms.to_vec();
    config.paper.starting_cash_usd = a.cash;
    config.paper.slippage_bps = a.slippage_bps;
    config.paper.fee_bps = a.fee_bps;
    config.paper.participation = a.participation;
    config.paper.latency_ms = 0;
}

/// A progress bar on a terminal, nothing otherwise.
fn progress_bar(bars: usize) -> Option<indicatif::ProgressBar> {
    std::io::stderr().is_terminal().then(|| {
        let pb = indicatif::ProgressBar::new(bars as u64);
        pb.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} bars {per_sec} {eta}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        pb
    })
}

fn print_human(r: &Report<'_>) {
    let s = r.summary;
    out!(
        "backtest {} (guard {}) on {} ({}), {} to {}",
        r.strategy,
        r.guard,
        r.data,
        r.symbols.join(","),
        r.first_bar.as_deref().unwrap_or("-"),
        r.last_bar.as_deref().unwrap_or("-")
    );
    out!(
        "  bars {}  targets {}  signals {}  orders {}  fills {}  trades {}",
        s.bars,
        s.targets,
        s.signals,
        s.orders,
        s.fills,
        s.trades
    );
    if s.rejections.is_empty() {
        out!("  rejections: none");
    } else {
        let list: Vec<String> = s
            .rejections
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        out!("  rejections: {}", list.join(", "));
    }
    if !s.resized.is_empty() {
        let list: Vec<String> = s.resized.iter().map(|(k, v)| format!("{k} {v}")).collect();
        out!("  resized by the guard: {}", list.join(", "));
    }
    out!(
        "  equity {} -> {} (return {} %), max drawdown {} %, fees {}",
        s.starting_equity,
        s.final_equity.round_dp(2),
        s.return_pct.round_dp(2),
        s.max_drawdown_pct.round_dp(2),
        s.fees.round_dp(2)
    );
    out!(
        "  {:.0} bars/s (load {:.3} s, run {:.3} s)",
        r.bars_per_second,
        r.load_seconds,
        r.run_seconds
    );
}

fn write_trades(path: &std::path::Path, trades: &[Trade]) -> anyhow::Result<()> {
    // Readable by others, writable only by its owner, whatever the umask.
    let file = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(path)
            .with_context(|| format!("cannot create {}", path.display()))?
    };
    let mut w = std::io::BufWriter::new(file);
    let opt = |v: Option<String>| v.unwrap_or_default();
    writeln!(
        w,
        "symbol,entry_time,entry_price,exit_time,exit_price,qty,pnl"
    )?;
    for t in trades {
        writeln!(
            w,
            "{},{},{},{},{},{},{}",
            t.symbol,
            t.entry_time,
            t.entry_price,
            opt(t.exit_time.map(|x| x.to_string())),
            opt(t.exit_price.map(|x| x.to_string())),
            t.qty,
            opt(t.pnl.map(|x| x.to_string()))
        )?;
    }
    w.flush()
        .with_context(|| format!("cannot write {}", path.display()))
}
