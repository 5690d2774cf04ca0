//! `ballast engine --standalone` (or `--supervised`, as `ballast run` starts it): the trading
//! engine in the foreground. Logs go to stderr; Ctrl-C or SIGTERM stops it cleanly (a final
//! snapshot is written).

use super::err;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use ballast_engine::{Options, run_on};

use super::chaos_env::chaos_from_env;
use super::{ConfigArg, DataDirArg};
use crate::exit::{self, Exit};
use crate::settings;

/// Write a line, ignoring a closed stream (the supervisor that read it may be gone).
macro_rules! say {
    ($stream:expr, $($arg:tt)*) => {{
        use std::io::Write;
        let _ = writeln!($stream, $($arg)*);
    }};
}

#[derive(Debug, clap::Args)]
pub struct EngineArgs {
    /// Run without a Ballast supervisor (systemd, Kubernetes or a terminal supervises it).
    #[arg(long, conflicts_with = "supervised")]
    pub standalone: bool,
    /// Started by `ballast run`: halts (stops cleanly, state persisted) when the supervisor dies.
    #[arg(long, hide = true)]
    pub supervised: bool,
    /// Started by `ballast run`: the configuration is the supervisor's in force
    /// (`run/engine-config.json`), not a file on disk.
    #[arg(long, hide = true, requires = "supervised", conflicts_with = "config")]
    pub config_in_force: bool,
    /// Started by `ballast run --live` on a live configuration: live was asked twice (the
    /// configuration and the operator's flag). A standalone engine never trades live.
    #[arg(long, hide = true, requires = "supervised")]
    pub live: bool,
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
    if !a.standalone && !a.supervised {
        err!(
            "ballast: `ballast engine` is started by the supervisor (`ballast run`); \
             to run it on its own, use --standalone"
        );
        return Ok(exit::FAILURE);
    }
    let mut supervisor = None;
    if a.supervised {
        // The supervisor's death is a SIGTERM for the engine (it wakes any wait at once), and
        // the engine also sees that its parent changed before every order: it halts before its
        // next order, state persisted. The parent is read before the signal is armed: had the
        // supervisor died in between, the parent would differ now.
        let parent = rustix::process::getppid();
        rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::TERM))?;
        if rustix::process::getppid() != parent {
            err!("ballast engine: the supervisor is already gone; not starting");
            return Ok(exit::FAILURE);
        }
        supervisor = parent.map(|p| p.as_raw_nonzero().get() as u32);
    }
    let source = if a.config_in_force {
        Source::InForce
    } else {
        Source::Arg(&a.config)
    };
    foreground(
        source,
        &a.data_dir,
        Started {
            standalone: a.standalone,
            supervisor,
            live: a.live,
        },
        a.max_bars,
        a.bars_per_second,
    )
}

/// How the engine was started.
pub struct Started {
    pub standalone: bool,
    /// The supervisor's pid (`engine --supervised`).
    pub supervisor: Option<u32>,
    /// `run --live` passed live on (`--live`).
    pub live: bool,
}

/// Where the engine's configuration comes from.
pub enum Source<'a> {
    /// `--config FILE`, `BALLAST_CONFIG`, `./ballast.toml` or the built-in one.
    Arg(&'a ConfigArg),
    /// The supervisor's configuration in force (`run/engine-config.json` of the data
    /// directory): a supervised engine never runs a file edited since and not reloaded.
    InForce,
}

/// The configuration of `source` (the file it came from: `None` for the one in force) and the
/// data directory, or the exit code (said why).
type Configured = (
    ballast_core::config::Config,
    Option<settings::ConfigChoice>,
    std::path::PathBuf,
);

fn configuration(source: Source<'_>, data_dir: &DataDirArg) -> Result<Configured, Exit> {
    match source {
        Source::Arg(config) => {
            let loaded = config.load()?;
            let dir = settings::DataDir::new(
                data_dir.data_dir.as_deref(),
                Some((&loaded.config, &loaded.settings)),
            )
            .path;
            Ok((loaded.config, Some(loaded.choice), dir))
        }
        Source::InForce => {
            let dir = settings::DataDir::new(data_dir.data_dir.as_deref(), None).path;
            let layout = ballast_store::Layout::new(&dir);
            match ballast_store::files::engine_config::read(&ballast_store::RealStorage, &layout) {
                Ok(file) => Ok((file.config, None, dir)),
                Err(e) => {
                    err!(
                        "ballast engine: refusing to start: the supervisor's configuration in force is not readable: {e}"
                    );
                    Err(exit::CONFIG)
                }
            }
        }
    }
}

/// Run the engine in this process until Ctrl-C / SIGTERM (or `max_bars`).
pub fn foreground(
    source: Source<'_>,
    data_dir: &DataDirArg,
    started: Started,
    max_bars: Option<u64>,
    bars_per_second: Option<u32>,
) -> anyhow::Result<Exit> {
    let Started {
        standalone,
        supervisor,
        live,
    } = started;
    let (cfg, choice, dir) = match configuration(source, data_dir) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    // Principle 1. `ballast engine` has no --live of its own: the supervisor's `run --live`
    // is the second ask (it passes `--live` on), and only an external broker trades live.
    // Once started, the engine itself sends nothing live until the broker's compatibility
    // check passed, the reconciliation is clean and the account is the journal's.
    if let Some(why) = live_refusal(&cfg, live) {
        err!("ballast engine: refusing to start: {why}; nothing was started");
        return Ok(exit::CONFIG);
    }
    // Chaos is refused in live mode, always (the configuration's, CHAOS_MODE's and the
    // BALLAST_CHAOS_* hooks'), before anything is touched.
    let chaos = chaos_from_env()?;
    if let Some(why) = super::chaos_env::live_refusal(&cfg, live, &chaos) {
        err!("ballast engine: refusing to start: {why}\n    nothing was started");
        return Ok(exit::CONFIG);
    }
    // A standalone engine beside a supervisor of the same data directory would obey (and
    // fight) the other runtime: refused before anything is touched.
    if standalone {
        if let Some(code) = refuse_beside_supervisor(&dir) {
            return Ok(code);
        }
    }
    // The standalone engine's own HTTP endpoints: checked before anything starts (a remote
    // bind without a supplied token is refused, 78), served beside the engine; removed at exit.
    // Beside another engine of the data directory (which then refuses this one) the API is
    // that engine's: not started.
    let other = ballast_supervisor::heal::engine_lock_held(&ballast_store::Layout::new(&dir));
    let api = match standalone && !other {
        true => match super::api::check("ballast engine", &cfg, choice.as_ref(), &dir) {
            Ok(checked) => Some(checked),
            Err(code) => return Ok(code),
        },
        false => None,
    };
    let stop = Arc::new(AtomicBool::new(false));
    // A stop signal sets the flag, then writes to a self-pipe that ends any wait of the
    // engine at once (the flag is set first: whoever wakes sees it).
    let (wake, wake_write) = std::os::unix::net::UnixStream::pair()?;
    wake_write.set_nonblocking(true)?;
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop))?;
        signal_hook::low_level::pipe::register(sig, wake_write.try_clone()?)?;
    }
    // Text on stderr (a supervised engine's is captured into logs/engine.log by the
    // supervisor); a standalone engine writes JSON lines to logs/engine.log itself.
    let logs_dir = standalone.then(|| ballast_store::Layout::new(&dir).logs());
    if let Some(warning) = crate::logging::init(crate::logging::Setup {
        component: "engine",
        logs_dir,
    }) {
        say!(std::io::stderr(), "ballast: engine: warning: {warning}");
    }
    let mut log = |line: &str| crate::logging::bridge("ballast::engine", line);
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
    // Served once the engine has said it starts (its first line), removed at exit.
    let _api = api.map(|checked| super::api::standalone(&cfg, checked, &dir));
    if let Some(mode) = ballast_store::storage::open_to_others(&dir) {
        log(&format!(
            "WARNING: {}",
            ballast_core::heal::open_to_others(&dir.display().to_string(), mode)
        ));
    }
    let opts = Options {
        max_bars,
        stall_before_send_ms: chaos.stall_before_send_ms,
        supervisor,
        wake: Some(Arc::new(wake)),
        bars_per_second,
        crash_after_seq: chaos.crash_after_seq,
        lost_reply_every: chaos.lost_reply_every,
        feed_stall: chaos.feed_stall,
        debug: std::env::var("RUST_LOG").is_ok_and(|v| v.contains("debug") || v.contains("trace")),
        ..Options::default()
    };
    Ok(trade(&cfg, &dir, &opts, &stop, &mut log))
}

/// The venue built from the configuration, and the engine run on it until it stops: its exit
/// code (a venue that cannot be built is FAILED_CONFIG, 78).
fn trade(
    cfg: &ballast_core::config::Config,
    dir: &std::path::Path,
    opts: &Options,
    stop: &AtomicBool,
    log: &mut dyn FnMut(&str),
) -> Exit {
    let venue = match super::venue::from_config(cfg) {
        Ok(v) => v,
        Err(why) => {
            say!(
                std::io::stderr(),
                "ballast: engine: FAILED_CONFIG: the {} broker cannot be set up: {why}; nothing was started",
                cfg.broker.kind.as_str()
            );
            return exit::CONFIG;
        }
    };
    match run_on(cfg, dir, opts, venue, stop, log) {
        Ok(report) => {
            print_stopped(&report);
            exit::OK
        }
        Err(e) => {
            say!(std::io::stderr(), "ballast: engine: {e}");
            exit_of(&e)
        }
    }
}

/// What a stopped engine did, on stdout: the trading, then the shadow book's verdict on the
/// guard.
fn print_stopped(report: &ballast_engine::Report) {
    let s = &report.state;
    say!(
        std::io::stdout(),
        "engine stopped after {} bars (journal seq {}): equity {} (cash {}), {} signals, {} orders, {} fills, {}",
        report.bars,
        report.last_seq,
        s.portfolio.equity().round_dp(2),
        s.portfolio.cash.round_dp(2),
        s.stats.signals,
        s.stats.orders,
        s.stats.fills,
        rejections(&s.stats.rejections)
    );
    let t = &s.shadow.totals;
    say!(
        std::io::stdout(),
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
}

/// A supervisor's lock on the data directory: a standalone engine beside it would obey (and
/// fight) the other runtime, so it is refused, said in words.
fn refuse_beside_supervisor(dir: &std::path::Path) -> Option<Exit> {
    let layout = ballast_store::Layout::new(dir);
    if let Some(h) = ballast_store::files::lock::supervisor_holder(&layout) {
        say!(
            std::io::stderr(),
            "ballast engine: a supervisor{} runs for the data directory {}: it holds {} and runs its own engine; a standalone engine beside it is refused — nothing was started\n    help: `ballast status --data-dir {}` shows it; stop it first, or use another --data-dir",
            h.pid.map(|p| format!(" (pid {p})")).unwrap_or_default(),
            dir.display(),
            layout.supervisor_lock().display(),
            dir.display()
        );
        return Some(exit::FAILURE);
    }
    None
}

/// The exit code of an engine that stopped on `e`.
fn exit_of(e: &ballast_engine::EngineError) -> Exit {
    match e {
        ballast_engine::EngineError::Recover(_) => exit::DANGEROUS,
        // A replay file that cannot be read, a journal of the other mode: the
        // configuration is wrong — FAILED_CONFIG, not a restart loop.
        // A lock that cannot be one (a FIFO in its place): fix, not a restart loop.
        ballast_engine::EngineError::Lock(ballast_engine::lock::LockError::Io {
            source, ..
        }) if source.kind() == std::io::ErrorKind::InvalidInput => exit::CONFIG,
        ballast_engine::EngineError::Feed(_)
        | ballast_engine::EngineError::Link(_)
        | ballast_engine::EngineError::ModeMismatch { .. }
        | ballast_engine::EngineError::AccountMismatch { .. }
        | ballast_engine::EngineError::VenueConfig { .. }
        | ballast_engine::EngineError::VenueRefused { .. }
        | ballast_engine::EngineError::NoVenue(_)
        | ballast_engine::EngineError::NoBarSource => exit::CONFIG,
        _ => exit::FAILURE,
    }
}

/// Why the engine may not start as asked (principle 1; `None`: it may): live needs
/// `mode = "live"`, the supervisor's `--live` and an external broker; `--live` needs a live
/// configuration.
fn live_refusal(cfg: &ballast_core::config::Config, live: bool) -> Option<String> {
    use ballast_core::config::{BrokerKind, Mode};
    match (cfg.general.mode, live) {
        (Mode::Paper, false) => None,
        (Mode::Paper, true) => Some(
            "--live was given but the configuration says mode = \"paper\" (live needs mode = \"live\" too)".into(),
        ),
        (Mode::Live, false) => Some(
            "the configuration says mode = \"live\": a live engine is started only by `ballast run --live` (live asked twice), never standalone".into(),
        ),
        (Mode::Live, true) if cfg.broker.kind == BrokerKind::Paper => Some(
            "mode = \"live\" needs a live broker: [broker] kind = \"alpaca\" (the paper broker is a simulator)".into(),
        ),
        (Mode::Live, true) => None,
    }
}

/// "no guard rejections", or "guard rejections: max_open_orders 3, cooldown 1".
fn rejections<K: std::fmt::Display>(by_check: &std::collections::BTreeMap<K, u64>) -> String {
    if by_check.is_empty() {
        return "no guard rejections".to_owned();
    }
    let parts: Vec<String> = by_check.iter().map(|(k, n)| format!("{k} {n}")).collect();
    format!("guard rejections: {}", parts.join(", "))
}
