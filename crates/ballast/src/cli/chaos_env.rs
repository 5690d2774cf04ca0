//! The chaos switches of the environment (paper mode only; docs/CHAOS.md): `CHAOS_MODE` is
//! merged into `[chaos] modes` by the configuration loader; the older `BALLAST_CHAOS_*` hooks
//! (the exact knobs of `engine_crash`, `lost_reply`, `stale_feed` and a stall before a send)
//! are read here. Any of them in live mode is refused ([`live_refusal`]).

use ballast_core::chaos::{ChaosMode, ChaosPlan};
use ballast_core::config::{Config, Mode};

/// Chaos hook (paper mode only): crash right after this journal seq is durable.
pub const CRASH_ENV: &str = "BALLAST_CHAOS_CRASH_AFTER_SEQ";
/// Chaos (paper only): lose the paper venue's reply to one send in this many.
pub const LOST_REPLY_ENV: &str = "BALLAST_CHAOS_LOST_REPLY_EVERY";
/// Chaos (paper only): stall this many ms between the first order intent and its send.
pub const STALL_ENV: &str = "BALLAST_CHAOS_STALL_BEFORE_SEND_MS";
/// Chaos (paper mode only): the primary feed delivers nothing from bar `<from>` on (to bar
/// `<to>` with `<from>..=<to>`), so that `[feed.backup]` takes over.
pub const FEED_STALL_ENV: &str = "BALLAST_CHAOS_FEED_STALL";

/// The chaos hooks asked for in the environment (paper mode only), each refused in words when
/// its value is not a number of its kind.
pub struct Chaos {
    pub crash_after_seq: Option<u64>,
    pub lost_reply_every: Option<u32>,
    pub stall_before_send_ms: Option<u64>,
    pub feed_stall: Option<ballast_engine::FeedStall>,
}

pub fn chaos_from_env() -> anyhow::Result<Chaos> {
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
    let stall_before_send_ms = match std::env::var(STALL_ENV) {
        Ok(v) => Some(v.trim().parse::<u64>().map_err(|_| {
            anyhow::anyhow!("{STALL_ENV}={v:?} must be a whole number of milliseconds")
        })?),
        Err(_) => None,
    };
    let feed_stall = match std::env::var(FEED_STALL_ENV) {
        Ok(v) => Some(
            ballast_engine::FeedStall::parse(&v)
                .map_err(|why| anyhow::anyhow!("{FEED_STALL_ENV}: {why}"))?,
        ),
        Err(_) => None,
    };
    Ok(Chaos {
        crash_after_seq,
        lost_reply_every,
        stall_before_send_ms,
        feed_stall,
    })
}

impl Chaos {
    /// The hooks set, as `VAR (mode)`.
    fn set(&self) -> Vec<String> {
        [
            (
                self.crash_after_seq.is_some(),
                CRASH_ENV,
                ChaosMode::EngineCrash.as_str(),
            ),
            (
                self.lost_reply_every.is_some(),
                LOST_REPLY_ENV,
                ChaosMode::LostReply.as_str(),
            ),
            (
                self.stall_before_send_ms.is_some(),
                STALL_ENV,
                "a stall before a send",
            ),
            (
                self.feed_stall.is_some(),
                FEED_STALL_ENV,
                ChaosMode::StaleFeed.as_str(),
            ),
        ]
        .into_iter()
        .filter(|(on, _, _)| *on)
        .map(|(_, var, what)| format!("{var} ({what})"))
        .collect()
    }
}

/// Why chaos may not run here (`None`: it may): any active mode or hook with
/// `mode = "live"` or `--live` is refused, naming them and what to do.
pub fn live_refusal(cfg: &Config, live_flag: bool, hooks: &Chaos) -> Option<String> {
    let live = live_flag || cfg.general.mode == Mode::Live;
    if !live {
        return None;
    }
    let plan = ChaosPlan::of(cfg);
    if let Some(why) = ballast_core::chaos::live_refusal(&plan.modes, true) {
        return Some(why);
    }
    let set = hooks.set();
    (!set.is_empty()).then(|| {
        format!(
            "the chaos hook{} {} {} set and this is a live instance: chaos is refused in live mode, always\n    help: unset {} for live trading, or run the chaos in paper mode",
            if set.len() == 1 { "" } else { "s" },
            set.join(", "),
            if set.len() == 1 { "is" } else { "are" },
            set.iter().map(|s| s.split(' ').next().unwrap_or(s)).collect::<Vec<_>>().join(" and ")
        )
    })
}

/// `command` refuses to start (exit 78, said why) when chaos is asked for in live mode.
pub fn refuse_live(
    command: &str,
    cfg: &Config,
    live_flag: bool,
) -> anyhow::Result<Option<crate::exit::Exit>> {
    let hooks = chaos_from_env()?;
    Ok(live_refusal(cfg, live_flag, &hooks).map(|why| {
        super::err!("{command}: refusing to start: {why}\n    nothing was started");
        crate::exit::CONFIG
    }))
}

/// What the supervisor's chaos holds while it runs (dropped at its end).
pub struct SupervisorChaos {
    /// `port_conflict`: the API's configured port, held so that the API must take another.
    _port: Option<std::net::TcpListener>,
}

/// The supervisor's chaos modes (paper only), carried out: `port_conflict` takes the API's
/// configured port before the API binds it (its designed response: the next ports are tried,
/// the one bound is said and shown in `ballast status`); `supervisor_crash` aborts the
/// supervisor `[chaos] supervisor_crash_after_secs` after its start (its engine halts before
/// its next order on the parent's death; whoever runs the supervisor starts it again).
pub fn supervisor_chaos(cfg: &Config, log: &mut dyn FnMut(&str)) -> SupervisorChaos {
    let plan = match cfg.general.mode {
        Mode::Paper => ChaosPlan::of(cfg),
        Mode::Live => ChaosPlan::default(),
    };
    if let Some(banner) = plan.banner() {
        log(&banner);
    }
    let mut port = None;
    if plan.is_active(ChaosMode::PortConflict) && cfg.api.port != 0 {
        let addr = format!("{}:{}", cfg.api.bind, cfg.api.port);
        match std::net::TcpListener::bind(&addr) {
            Ok(l) => {
                log(&format!(
                    "chaos: port_conflict: {addr} is taken (held by chaos) before the API binds it"
                ));
                port = Some(l);
            }
            Err(e) => log(&format!(
                "chaos: port_conflict: {addr} could not be taken ({e}): it is taken already"
            )),
        }
    }
    if plan.is_active(ChaosMode::SupervisorCrash) {
        let secs = plan.knobs.supervisor_crash_after_secs;
        log(&format!(
            "chaos: supervisor_crash: the supervisor aborts in {secs} s"
        ));
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_secs(u64::from(secs)));
            super::err!("ballast run: chaos: supervisor_crash: aborting now");
            std::process::abort();
        });
    }
    SupervisorChaos { _port: port }
}
