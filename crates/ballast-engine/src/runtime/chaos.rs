//! The engine's chaos (paper mode only; issue 15): the plan of `[chaos] modes` (with
//! `CHAOS_MODE`'s) carried out at the seams — the broker ([`ChaosBroker`], in `pass`), the
//! storage (`disk_full`), the clock (`clock_skew`), the feed (`stale_feed`, the existing
//! feed stall), the crash hook (`engine_crash`), the venue's lost replies (`lost_reply`) — and,
//! before recovery, the journal's tail (`journal_torn_tail`) and the snapshot
//! (`state_corrupt`), so that the heal-or-halt paths that exist run. What fires when is
//! decided in `ballast_core::chaos::schedule`; this only acts.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ballast_core::Clock;
use ballast_core::chaos::{ChaosCalls, ChaosMode, ChaosPlan, schedule};
use ballast_core::config::{Config, Mode};
use ballast_core::time::Timestamp;
use ballast_store::{Layout, Storage};

use super::{FeedStall, Options};

/// The plan and what it met so far (kept by the engine's writer across calls).
#[derive(Debug, Default)]
pub(crate) struct ChaosRun {
    pub(crate) plan: ChaosPlan,
    pub(crate) calls: ChaosCalls,
}

/// The chaos of `config`: its modes in paper mode, none in live mode (refused before; never
/// carried out live even if a caller skipped the check).
pub(crate) fn plan_for(config: &Config) -> ChaosPlan {
    match config.general.mode {
        Mode::Paper => ChaosPlan::of(config),
        Mode::Live => ChaosPlan::default(),
    }
}

/// The options with the modes that are knobs of the existing hooks folded in (an explicit
/// `BALLAST_CHAOS_*` value wins): `engine_crash` → the crash seq, `lost_reply` → one send in
/// `every`, `stale_feed` → the feed stall from `stale_after_bars` on.
pub(crate) fn fold(opts: &Options, plan: &ChaosPlan) -> Options {
    let k = &plan.knobs;
    let on = |m| plan.is_active(m);
    Options {
        crash_after_seq: opts.crash_after_seq.or_else(|| {
            on(ChaosMode::EngineCrash).then(|| schedule::crash_seq(k.seed, k.crash_after_records))
        }),
        lost_reply_every: opts
            .lost_reply_every
            .or_else(|| on(ChaosMode::LostReply).then_some(k.every)),
        feed_stall: opts.feed_stall.or_else(|| {
            on(ChaosMode::StaleFeed).then_some(FeedStall {
                from: u64::from(k.stale_after_bars),
                to: None,
            })
        }),
        ..opts.clone()
    }
}

/// The engine's storage: `disk_full` wraps it.
pub(crate) fn storage(plan: &ChaosPlan, inner: Arc<dyn Storage>) -> Arc<dyn Storage> {
    match plan.is_active(ChaosMode::DiskFull) {
        true => Arc::new(ballast_store::chaos::DiskFull::new(
            inner,
            u64::from(plan.knobs.disk_full_after_writes),
        )),
        false => inner,
    }
}

/// The engine's clock: `clock_skew` wraps it.
pub(crate) fn clock(plan: &ChaosPlan, inner: Arc<dyn Clock>) -> Arc<dyn Clock> {
    match plan.is_active(ChaosMode::ClockSkew) {
        true => Arc::new(Skewed {
            inner,
            reads: AtomicU64::new(0),
            seed: plan.knobs.seed,
            skew_secs: plan.knobs.skew_secs,
        }),
        false => inner,
    }
}

/// A clock that jumps forward at a seeded read and back later ([`schedule::skew_secs_at`]).
#[derive(Debug)]
struct Skewed {
    inner: Arc<dyn Clock>,
    reads: AtomicU64,
    seed: u64,
    skew_secs: u32,
}

impl Clock for Skewed {
    fn now(&self) -> Timestamp {
        let n = self.reads.fetch_add(1, Ordering::SeqCst) + 1;
        let ahead_ms = schedule::skew_secs_at(self.seed, n, self.skew_secs) * 1000;
        Timestamp::from_unix_ms(self.inner.now().unix_ms().saturating_add(ahead_ms))
    }
}

/// Before recovery: `journal_torn_tail` tears the engine journal's last record (its last
/// bytes cut, as a crash mid-write leaves it), `state_corrupt` flips a byte of the newest
/// engine snapshot — so that recovery's heals (quarantine, cut, replay) run. Each once per
/// data directory (a marker in `run/`): a restarted engine recovers from what it healed.
pub(crate) fn at_start(plan: &ChaosPlan, layout: &Layout, log: &mut dyn FnMut(&str)) {
    if plan.is_active(ChaosMode::JournalTornTail) && once(layout, ChaosMode::JournalTornTail) {
        match newest(&layout.engine_journal(), |_| true).map(|p| tear(&p)) {
            Some(Ok(what)) => log(&format!("chaos: journal_torn_tail: {what}")),
            Some(Err(e)) => log(&format!("chaos: journal_torn_tail: not torn: {e}")),
            None => log("chaos: journal_torn_tail: no journal yet, nothing torn"),
        }
    }
    if plan.is_active(ChaosMode::StateCorrupt) && once(layout, ChaosMode::StateCorrupt) {
        let engine = |n: &str| n.starts_with("engine.snapshot.") && n.ends_with(".json");
        match newest(&layout.state(), engine).map(|p| flip(&p)) {
            Some(Ok(what)) => log(&format!("chaos: state_corrupt: {what}")),
            Some(Err(e)) => log(&format!("chaos: state_corrupt: not corrupted: {e}")),
            None => log("chaos: state_corrupt: no snapshot yet, nothing corrupted"),
        }
    }
}

/// True the first time for `mode` in this data directory (its marker is then written).
fn once(layout: &Layout, mode: ChaosMode) -> bool {
    let marker = layout.run().join(format!("chaos.{}.done", mode.as_str()));
    if marker.exists() {
        return false;
    }
    let _ = std::fs::create_dir_all(layout.run());
    std::fs::write(&marker, b"done\n").is_ok()
}

/// The last file (by name) of `dir` whose name passes `keep`.
fn newest(dir: &Path, keep: impl Fn(&str) -> bool) -> Option<std::path::PathBuf> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| keep(n))
        .collect();
    names.sort();
    names.pop().map(|n| dir.join(n))
}

fn tear(path: &Path) -> std::io::Result<String> {
    let len = std::fs::metadata(path)?.len();
    let cut = len.min(7);
    let f = std::fs::OpenOptions::new().write(true).open(path)?;
    f.set_len(len - cut)?;
    f.sync_all()?;
    Ok(format!(
        "cut the last {cut} bytes of {} ({len} bytes)",
        path.display()
    ))
}

fn flip(path: &Path) -> std::io::Result<String> {
    let mut bytes = std::fs::read(path)?;
    let at = bytes.len() / 2;
    let Some(b) = bytes.get_mut(at) else {
        return Ok(format!("{} is empty", path.display()));
    };
    *b ^= 0x80;
    std::fs::write(path, &bytes)?;
    Ok(format!("flipped byte {at} of {}", path.display()))
}

/// `invalid_creds` on the paper venue: the engine ends as on a refusal of the credentials
/// (FAILED_CONFIG, exit 78, no restart loop), after the heartbeat said it.
pub(super) fn refused(w: &super::Writer<'_>) -> Option<super::EngineError> {
    let text = w.chaos.calls.persistent.as_ref()?;
    (w.venue.is_none() && text.starts_with("FAILED_CONFIG")).then(|| {
        super::EngineError::VenueRefused {
            broker: ballast_core::engine::PAPER,
            detail: text.clone(),
        }
    })
}

/// `schema_drift` on the paper venue: once an answer broke the contract nothing more is sent
/// (FAILED_API_SCHEMA: trading stops; decisions are refused with this reason).
pub(super) fn refusal(w: &super::Writer<'_>) -> Option<String> {
    let text = w.chaos.calls.persistent.as_ref()?;
    (w.venue.is_none() && text.starts_with("FAILED_API_SCHEMA")).then(|| {
        format!("the paper venue broke its contract ({text}); nothing is sent until Ballast restarts without schema_drift")
    })
}

/// At the end of a run: how many faults each broker mode injected (`chaos: injected …`), so
/// that a chaos run says what it met.
pub(super) fn say_injected(run: &ChaosRun, log: &mut dyn FnMut(&str)) {
    if run.plan.is_empty() {
        return;
    }
    let counts: Vec<String> = run
        .calls
        .injected
        .iter()
        .map(|(m, n)| format!("{m} {n}"))
        .collect();
    log(&format!(
        "chaos: injected over {} broker calls: {}",
        run.calls.calls,
        if counts.is_empty() {
            "no broker fault".to_owned()
        } else {
            counts.join(", ")
        }
    ));
}
