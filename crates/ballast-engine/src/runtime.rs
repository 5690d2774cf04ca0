//! The engine loop.
//!
//! Recovery: newest valid snapshot + replay of the journal, each record decoded as an
//! [`EngineRecord`] and applied. Then a pass for what a crash left pending, and per bar: the
//! inbox, the `market.bar` record (with the venue's fills on it), then a pass
//! (`pass::pass`: the core's [`EngineState::poll`] decides what comes next; every record is
//! journaled, durable, before it is applied — `Writer::commit` — so an order reaches the
//! venue only after its intent is durable).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ballast_core::Clock;
use ballast_core::broker::{Broker, PaperVenue};
use ballast_core::config::{Config, FeedKind, Mode};
use ballast_core::engine::{
    ApplyError, BarRecord, EngineRecord, EngineState, JournalStamp, PaperSettingsRecord,
    STATE_SCHEMA, SettingsSource, TrimRules,
};
use ballast_core::guard::Limits;
use ballast_core::paper::PaperConfig;
use ballast_store::journal::{JournalError, JournalOptions, OpenPolicy};
use ballast_store::record::RecordRef;
use ballast_store::recovery::{RecoverError, RecoverSpec, Recovered, recover};
use ballast_store::snapshot::{SnapshotError, Snapshots};
use ballast_store::{Journal, Layout, RealStorage, Storage, SystemClock};

use crate::feed::{Feed, file};
use crate::heartbeat::{self, Heartbeat};

pub use ballast_core::engine::kinds::{
    ALL as RECORD_TYPES, BAR, DECISION, EXPIRED, INBOX, KILL_SWITCH, LIQUIDATION, PAPER_SETTINGS,
    POLICY, SENT, SETTINGS, SETTLE, STAMP, TAKEN,
};
mod chaos;
mod choices;
mod controls;
mod feeds;
mod options;
mod pass;
mod report;
mod say;
mod settings;
mod venue;
pub use feeds::FeedStall;
pub use options::Options;
use options::{supervisor_gone, wait};
use pass::pass;
use report::pipeline_report;
pub use venue::{CompatFailure, ExternalVenue, MAX_PAGES_PER_POLL};

/// The engine state's snapshots: `state/engine.snapshot.<seq>.json`.
pub const SNAPSHOT_NAME: &str = "engine";
/// How long an unpaced engine waits when its feed has no bar (instead of spinning).
const IDLE: Duration = Duration::from_millis(20);
/// The reports written beside the engine's snapshot, at the same seq.
pub const REPORT_SNAPSHOTS: &[&str] = &["pipeline", "universe"];

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot prepare the data directory {}: {source}", dir.display())]
    DataDir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("recovery failed: {0}")]
    Recover(#[from] RecoverError),
    #[error("the journal refused a write, trading stops: {0}")]
    Journal(#[from] JournalError),
    #[error("snapshot: {0}")]
    Snapshot(#[from] SnapshotError),
    #[error("market data: {0}")]
    Feed(#[from] file::FileError),
    #[error(
        "[feed] kind = \"alpaca\" needs the Alpaca bars source, and this engine was started without one\n    help: run it with [broker] kind = \"alpaca\" (its keys in the environment or [broker.alpaca] secrets_file), or use a replay or synthetic feed"
    )]
    NoBarSource,
    #[error("the venue did not answer a query, trading stops: {0}")]
    Venue(ballast_core::broker::BrokerError),
    #[error("cannot encode an engine record: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("the journal and the engine disagree at seq {seq}: {error}")]
    Apply { seq: u64, error: ApplyError },
    #[error("the engine state in the journal has schema {found}; this build has {STATE_SCHEMA}")]
    Schema { found: u32 },
    #[error(transparent)]
    Lock(#[from] crate::lock::LockError),
    #[error("refusing to start: {0}")]
    Link(String),
    #[error(
        "this data directory's journal was written in {journal} mode (account {account}) and the configuration asks for {config} mode: refused — a {journal} journal is never continued in {config} mode\n    help: use another --data-dir for {config} trading"
    )]
    ModeMismatch {
        journal: String,
        account: String,
        config: String,
    },
    #[error(
        "this data directory's journal belongs to the {journal_broker} broker's account {journal_account} and the venue is the {broker} broker's account {account}: refused — a journal is never continued on another broker or account\n    help: use another --data-dir for this account, or point [broker] back at the journal's account"
    )]
    AccountMismatch {
        journal_broker: String,
        journal_account: String,
        broker: String,
        account: String,
    },
    #[error(
        "FAILED_CONFIG: the {broker} broker's startup compatibility check failed: {detail}\n    help: check the keys (APCA_API_KEY_ID / APCA_API_SECRET_KEY or [broker.alpaca] secrets_file) and the URL of this mode; nothing was traded"
    )]
    VenueConfig {
        broker: &'static str,
        detail: String,
    },
    #[error(
        "FAILED_CONFIG: the {broker} broker refused the credentials after the start: {detail}; the engine stopped: no further request is sent (no retry loop)\n    help: fix the keys (APCA_API_KEY_ID / APCA_API_SECRET_KEY or [broker.alpaca] secrets_file) or their permissions, then `ballast reset engine`"
    )]
    VenueRefused {
        broker: &'static str,
        detail: String,
    },
    #[error(
        "the {broker} broker's account could not be read at the start: {detail}; nothing was traded (the journal cannot be matched to an account without it)\n    help: the supervisor starts the engine again with backoff; `ballast status` shows the venue's last error"
    )]
    VenueStart {
        broker: &'static str,
        detail: String,
    },
    #[error(
        "[broker] kind = \"{0}\" needs its venue, and this engine was started without one (a build or caller that only has the paper broker)"
    )]
    NoVenue(&'static str),
}

fn chaos_crash(opts: &Options, seq: u64, log: &mut dyn FnMut(&str)) {
    if opts.crash_after_seq == Some(seq) {
        log(&format!("chaos: crashing right after seq {seq}"));
        std::process::abort();
    }
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct Report {
    pub recovered_bars: u64,
    pub snapshot_seq: u64,
    pub replayed: u64,
    pub heals: usize,
    pub bars: u64,
    pub last_seq: u64,
    pub state: EngineState,
}

/// Replay one journal record: decoded as its type, then applied.
fn apply(state: &mut EngineState, limits: &Limits, rec: &RecordRef<'_>) -> Result<(), String> {
    let r = EngineRecord::decode(&rec.kind, rec.body.get())?;
    state.apply(&r, limits).map_err(|e| e.to_string())
}

fn build_feed(config: &Config, log: &mut dyn FnMut(&str)) -> Result<Feed, EngineError> {
    let f = &config.feed;
    Ok(match f.kind {
        FeedKind::Synthetic => Feed::synthetic(
            &f.symbols,
            f.synthetic_start_price,
            f.seed,
            f.synthetic_volatility_pct,
        ),
        FeedKind::Replay => {
            let loaded = if f.replay_file.is_empty() {
                file::load_bundled(&f.symbols)?
            } else {
                file::load(Path::new(&f.replay_file), &f.symbols, f.skip_bad_rows)?
            };
            for e in &loaded.first_errors {
                log(&format!("warning: skipped {e}"));
            }
            if loaded.skipped > 0 {
                log(&format!(
                    "warning: {} malformed row(s) skipped",
                    loaded.skipped
                ));
            }
            Feed::replay(loaded.bars.into_vec(), f.seed, f.synthetic_volatility_pct)
        }
        // Polled from the venue's market data, not built from a file or a seed.
        FeedKind::Alpaca => return Err(EngineError::NoBarSource),
    })
}

/// Run the engine on the paper venue until `stop` is set or `max_bars` is reached. `log`
/// receives one line per notable event.
pub fn run(
    config: &Config,
    data_dir: &Path,
    opts: &Options,
    stop: &AtomicBool,
    log: &mut dyn FnMut(&str),
) -> Result<Report, EngineError> {
    run_on(config, data_dir, opts, None, stop, log)
}

/// Run the engine on `venue` (`None`: the paper venue; required with `[broker] kind =
/// "alpaca"`).
pub fn run_on(
    config: &Config,
    data_dir: &Path,
    opts: &Options,
    venue: Option<Box<dyn ExternalVenue>>,
    stop: &AtomicBool,
    log: &mut dyn FnMut(&str),
) -> Result<Report, EngineError> {
    use ballast_core::config::BrokerKind;
    if venue.is_none() && config.broker.kind != BrokerKind::Paper {
        return Err(EngineError::NoVenue(config.broker.kind.as_str()));
    }
    // Chaos (paper mode only): its faults are set up at the seams before anything runs.
    let plan = chaos::plan_for(config);
    if let Some(banner) = plan.banner() {
        log(&banner);
    }
    let storage = chaos::storage(&plan, Arc::new(RealStorage));
    let layout = Layout::new(data_dir);
    let _lock = open_data_dir(&*storage, &layout, opts, log)?;
    let clock = chaos::clock(&plan, Arc::new(SystemClock));
    chaos::at_start(&plan, &layout, log);
    let limits = Limits::from(config);
    // How far the last run took `journal/signals/`, read before recovery may set its heartbeat
    // aside with the records a salvage cuts.
    let signals_taken =
        ballast_store::files::heartbeat::signals_taken(&*storage, &layout).map(|(seq, _)| seq);
    let (journal, recovered) = recover_state(config, &storage, &layout, &clock, &limits)?;
    if recovered.state.schema != STATE_SCHEMA {
        return Err(EngineError::Schema {
            found: recovered.state.schema,
        });
    }
    say_recovered(&recovered, log);
    let mut state = recovered.state;
    let mut report = Report {
        recovered_bars: state.bars,
        snapshot_seq: recovered.snapshot_seq,
        replayed: recovered.replayed,
        heals: recovered.heals.len(),
        bars: state.bars,
        last_seq: recovered.last_seq,
        state: state.clone(),
    };
    let opts = &chaos::fold(
        &Options {
            crash_after_seq: opts.crash_after_seq.filter(|_| paper(config)),
            lost_reply_every: opts.lost_reply_every.filter(|_| paper(config)),
            stall_before_send_ms: opts.stall_before_send_ms.filter(|_| paper(config)),
            feed_stall: opts.feed_stall.filter(|_| paper(config)),
            trim: TrimRules::from(config),
            ..opts.clone()
        },
        &plan,
    );
    let mut w = Writer {
        journal: &journal,
        storage: &*storage,
        layout: &layout,
        limits: &limits,
        config,
        opts,
        last_seq: recovered.last_seq,
        since_snapshot: 0,
        policy_seen: None,
        settings: settings::Follow::default(),
        choices: choices::Follow::default(),
        stalled: false,
        kill_switch_noted: false,
        stop,
        signals: crate::signals::SignalsIn::new(),
        clock: &*clock,
        venue: venue.map(|v| venue::External::new(v, config)),
        chaos: chaos::ChaosRun {
            plan,
            calls: Default::default(),
        },
    };
    let files = Files {
        storage: &*storage,
        clock: &*clock,
        journal: &journal,
    };
    let mut feeds = feeds::Feeds::new(config, &state, opts.feed_stall, clock.now(), log)?;
    start(&mut state, config, &mut w, signals_taken, log)?;
    trade(&mut state, config, &mut feeds, &mut w, &files, log)?;
    if let Some(pid) = opts.supervisor.filter(|_| supervisor_gone(opts)) {
        log(&format!(
            "the supervisor (pid {pid}) is gone: halted before the next order (journal at seq {}); the next supervisor recovers from here",
            w.last_seq
        ));
    }
    if w.since_snapshot > 0 {
        files.write_snapshots(&state, &layout, config)?;
    }
    report.bars = state.bars;
    report.last_seq = w.last_seq;
    report.state = state;
    Ok(report)
}

fn paper(config: &Config) -> bool {
    config.general.mode == Mode::Paper
}

/// Refuse links in the data directory, create it, and take the engine lock (one engine per
/// data directory, and one runtime: a standalone engine holds the data directory itself),
/// before anything reads or writes the journal.
fn open_data_dir(
    storage: &dyn Storage,
    layout: &Layout,
    opts: &Options,
    log: &mut dyn FnMut(&str),
) -> Result<crate::lock::RuntimeLock, EngineError> {
    // Nothing is written through a link inside the data directory: not the journal, the
    // snapshots, the quarantine copies, the lock (the same refusal `ballast heal` and
    // `ballast journal verify` report).
    if let Some(why) = ballast_core::heal::link_refusal(&layout.symlink_obs()) {
        return Err(EngineError::Link(why));
    }
    let data_dir = layout.root();
    layout
        .create(storage)
        .map_err(|source| EngineError::DataDir {
            dir: data_dir.to_path_buf(),
            source,
        })?;
    let lock = crate::lock::acquire_runtime(data_dir, &layout.run(), opts.supervisor)?;
    if let Some(w) = lock.dir.as_ref().and_then(|d| d.warning(data_dir)) {
        log(&format!("warning: {w}"));
    }
    Ok(lock)
}

/// The newest valid snapshot and the journal after it, replayed; what recovery did, logged.
fn recover_state(
    config: &Config,
    storage: &Arc<dyn Storage>,
    layout: &Layout,
    clock: &Arc<dyn Clock>,
    limits: &Limits,
) -> Result<(Journal, Recovered<EngineState>), EngineError> {
    let spec = RecoverSpec {
        storage: Arc::clone(storage),
        layout,
        clock: Arc::clone(clock),
        opts: JournalOptions::from(&config.journal),
        policy: if paper(config) {
            OpenPolicy::SalvageDangerous
        } else {
            OpenPolicy::RefuseDangerous
        },
        snapshot_name: SNAPSHOT_NAME,
        snapshot_retain: config.journal.snapshot_retain as usize,
        report_snapshots: REPORT_SNAPSHOTS,
        check_record: ballast_core::engine::kinds::check_body,
    };
    Ok(recover(
        &spec,
        || EngineState::new(config),
        &mut |s: &mut EngineState, r| apply(s, limits, r),
    )?)
}

/// What recovery did, in the log.
fn say_recovered(recovered: &Recovered<EngineState>, log: &mut dyn FnMut(&str)) {
    for h in &recovered.heals {
        log(&format!("heal: {} {}: {}", h.component, h.path, h.action));
    }
    if recovered.decision.outcome == ballast_core::recovery::Outcome::Salvage {
        for f in recovered.decision.dangerous() {
            log(&format!(
                "CRITICAL: {} {}: {}",
                f.component, f.target, f.reason
            ));
        }
        log(&format!(
            "CRITICAL: paper-mode salvage done: the journal continues from seq {}; what was cut or moved is in quarantine/",
            recovered.decision.keep_seq
        ));
    }
    log(&format!(
        "recovered: {} bars, snapshot at seq {}, {} records replayed, journal at seq {}",
        recovered.state.bars, recovered.snapshot_seq, recovered.replayed, recovered.last_seq
    ));
}

/// At a start: the journal's mode and account (stamped once, then checked at every start),
/// changed `[paper]` settings and changed `[guard]`/`[risk]` settings (journaled so that
/// replay agrees), then a pass for what a crash left pending (a target between the two
/// records of a bar).
fn start(
    state: &mut EngineState,
    config: &Config,
    w: &mut Writer<'_>,
    signals_taken: Option<u64>,
    log: &mut dyn FnMut(&str),
) -> Result<(), EngineError> {
    let wanted_stamp = match venue_account(w, log)? {
        Some((broker, account)) => JournalStamp {
            mode: config.general.mode.as_str().to_owned(),
            account,
            broker: broker.to_owned(),
            epoch: Some(ballast_core::engine::id_epoch(w.clock.now().unix_ms())),
        },
        None => JournalStamp {
            mode: config.general.mode.as_str().to_owned(),
            account: match config.general.mode {
                Mode::Paper => "paper".to_owned(),
                Mode::Live => "live".to_owned(),
            },
            broker: ballast_core::engine::PAPER.to_owned(),
            epoch: None,
        },
    };
    match &state.controls.stamp {
        Some(st) if st.mode != wanted_stamp.mode => {
            return Err(EngineError::ModeMismatch {
                journal: st.mode.clone(),
                account: st.account.clone(),
                config: wanted_stamp.mode,
            });
        }
        Some(st) if st.broker != wanted_stamp.broker || st.account != wanted_stamp.account => {
            return Err(EngineError::AccountMismatch {
                journal_broker: st.broker.clone(),
                journal_account: st.account.clone(),
                broker: wanted_stamp.broker,
                account: wanted_stamp.account,
            });
        }
        Some(_) => {}
        None => {
            w.commit(state, EngineRecord::Stamp(wanted_stamp), log)?;
        }
    }
    if let Some(ext) = w.venue.as_mut() {
        // The journal's id epoch (written with its first stamp, kept by every restart): every
        // id this journal sends the venue carries it.
        let epoch = state.controls.stamp.as_ref().and_then(|s| s.epoch.clone());
        ext.set_epoch(epoch)
            .map_err(|e| EngineError::Venue(ballast_core::broker::BrokerError::Schema(e)))?;
        ext.account_checked(true);
        let now = w.clock.now();
        venue::reconcile(state, w, now, true, log)?;
    }
    skip_signals_taken_before(state, w, signals_taken, log)?;
    let wanted = PaperConfig::from(&config.paper);
    if let Some(kept) = state.broker.config().filter(|k| **k != wanted) {
        let r = PaperSettingsRecord {
            previous: kept.clone(),
            now: wanted,
        };
        w.commit(state, EngineRecord::PaperSettings(r), log)?;
    }
    // The configuration file wins at a start (the operator started the engine with it, or the
    // supervisor's in force); a standalone engine sees a settings file already there without
    // adopting it (it may be stale), a supervised one judges it at its first pass.
    // The file is looked at before the start's record is journaled: one written after that
    // record is durable is a change, and followed.
    settings::started(w);
    let configured = ballast_core::engine::EngineSettings::of(config);
    if let Some(r) = state.settings_record(&configured, None, SettingsSource::Start) {
        w.commit(state, EngineRecord::Settings(Box::new(r)), log)?;
    }
    pass(state, w, log)
}

/// An external venue's startup before anything is journaled: its compatibility check and
/// its account (`(broker, fingerprint)`; `None`: the paper venue). The account is asked a
/// few times a poll interval apart; still unreadable, the engine stops (nothing traded).
fn venue_account(
    w: &mut Writer<'_>,
    log: &mut dyn FnMut(&str),
) -> Result<Option<(&'static str, String)>, EngineError> {
    const ATTEMPTS: u32 = 3;
    let (clock, opts) = (w.clock, w.opts);
    let pause = Duration::from_millis(u64::from(w.config.broker.alpaca.poll_interval_ms));
    let Some(ext) = w.venue.as_mut() else {
        return Ok(None);
    };
    ext.check_compat(clock.now(), log)?;
    let mut last = String::new();
    for attempt in 1..=ATTEMPTS {
        match ext.account_fingerprint(clock.now(), log) {
            Ok(fp) => return Ok(Some((ext.name(), fp))),
            Err(e) => last = e,
        }
        if attempt < ATTEMPTS && !w.stop.load(Ordering::SeqCst) {
            wait(opts, pause);
        }
    }
    Err(EngineError::VenueStart {
        broker: ext.name(),
        detail: last,
    })
}

/// The signals of `journal/signals/` a previous run took but whose `signals.taken` records the
/// journal no longer holds (a paper-mode salvage cut them): the heartbeat — written only after
/// each take was durable — says how far it had taken, and those are skipped, journaled, never
/// taken again (a signal traded twice is the worse loss; what was cut is in quarantine/).
fn skip_signals_taken_before(
    state: &mut EngineState,
    w: &mut Writer<'_>,
    taken: Option<u64>,
    log: &mut dyn FnMut(&str),
) -> Result<(), EngineError> {
    let Some(taken) = taken else {
        return Ok(());
    };
    let from = state.decisions.signals_seq;
    if taken <= from {
        return Ok(());
    }
    log(&format!(
        "CRITICAL: the journal holds signals taken up to seq {from} of journal/signals/, the last run had taken up to seq {taken}: their records were cut (a salvage); signals {}..={taken} are not taken again — see quarantine/ for what they became",
        from + 1
    ));
    let r = ballast_core::engine::TakenRecord {
        last_seq: taken,
        signals: Vec::new(),
    };
    w.commit(state, EngineRecord::Taken(r), log).map(|_| ())
}

/// The files written beside the journal: snapshots and the heartbeat.
struct Files<'a> {
    storage: &'a dyn Storage,
    clock: &'a dyn Clock,
    journal: &'a Journal,
}

impl Files<'_> {
    /// The engine's snapshot, and beside it at the same seq what operators (and the health
    /// monitor) read: the universe's eligibility and the pipeline report. Each is bound to
    /// the journal record at the seq it covers (the last durable one).
    fn write_snapshots(
        &self,
        state: &EngineState,
        layout: &Layout,
        config: &Config,
    ) -> Result<(), EngineError> {
        let Some((seq, crc)) = self.journal.durable_record() else {
            return Ok(());
        };
        let snap = |name, retain| Snapshots {
            storage: self.storage,
            layout,
            clock: self.clock,
            name,
            retain,
        };
        snap(SNAPSHOT_NAME, config.journal.snapshot_retain as usize).write(seq, crc, state)?;
        snap("universe", 1).write(seq, crc, &state.universe.snapshot())?;
        snap("pipeline", 1).write(seq, crc, &pipeline_report(state))?;
        Ok(())
    }
}

/// The loop: per bar the inbox, the bar record (with the venue's fills on it), a pass, a
/// snapshot now and then, the heartbeat, the pace.
fn trade(
    state: &mut EngineState,
    config: &Config,
    feeds: &mut feeds::Feeds,
    w: &mut Writer<'_>,
    files: &Files<'_>,
    log: &mut dyn FnMut(&str),
) -> Result<(), EngineError> {
    let bps = w
        .opts
        .bars_per_second
        .unwrap_or(config.feed.bars_per_second);
    let pace = (bps > 0).then(|| Duration::from_secs_f64(1.0 / f64::from(bps)));
    let mut loops = 0u64;
    let started = Instant::now();
    let mut in_flight = ballast_core::engine::InFlightAges::default();
    let mut lag = Duration::ZERO;
    while !w.halting() && w.opts.max_bars.is_none_or(|m| state.bars < m) {
        // Nothing new is decided on a feed that has no bar now (stalled, before the backup
        // takes over): the inbox waits; the pass still follows the kill switch and policy.
        match feeds.next(state, w, files.clock.now(), log)? {
            Some(bar) => {
                crate::inbox::read_inbox(state, config, w, files.clock.now(), log)?;
                crate::signals::take_signals(state, config, w, files.clock.now(), log)?;
                // An external venue's fills reach the engine by polling, not with a bar.
                let fills = match w.venue {
                    Some(_) => Vec::new(),
                    None => {
                        let mut venue =
                            PaperVenue::new(&state.broker, &state.portfolio, w.opts.paper_chaos())
                                .at_bar(&bar);
                        let mut fills = venue.fills_since(0).map_err(EngineError::Venue)?.fills;
                        let c = &mut w.chaos;
                        ballast_core::chaos::partial_fills(&c.plan, &mut c.calls, &mut fills);
                        fills
                    }
                };
                w.commit(state, EngineRecord::Bar(BarRecord { bar, fills }), log)?;
            }
            None if pace.is_none() => wait(w.opts, IDLE),
            None => {}
        }
        pass(state, w, log)?;
        venue::cycle(state, w, files.clock.now(), log)?;
        if w.since_snapshot >= config.journal.snapshot_every_records {
            files.write_snapshots(state, w.layout, config)?;
            w.since_snapshot = 0;
        }
        loops += 1;
        let hb = Heartbeat {
            version: ballast_store::files::VERSION,
            pid: std::process::id(),
            loops,
            time: files.clock.now(),
            bars: state.bars,
            last_seq: w.last_seq,
            status: choices::reported(&w.choices, venue::status(state, w)),
            view: state.view(state.trim_or(&w.opts.trim).max_total_at_risk_pct),
            figures: ballast_core::engine::EngineFigures {
                journal_sync: files.journal.sync_latency(),
                loop_lag_ms: u64::try_from(lag.as_millis()).unwrap_or(u64::MAX),
                oldest_in_flight_ms: in_flight.update(state, files.clock.now()),
                ..state.figures()
            },
            signals_seq: state.decisions.signals_seq,
            chaos: w.chaos.plan.modes.clone(),
        };
        if let Err(e) = heartbeat::write(w.layout, &hb) {
            log(&format!("warning: cannot write the heartbeat: {e}"));
        }
        // The venue refused the credentials (a 401, a 403 on the account): the heartbeat
        // above says FAILED_CONFIG; the engine ends like a refusal at its start (exit 78, the
        // supervisor does not restart it) and sends no further request.
        if let Some(e) = venue::refused(w).or_else(|| chaos::refused(w)) {
            return Err(e);
        }
        if w.opts.debug {
            log(&format!("debug: bar {} seq {}", state.bars, w.last_seq));
        }
        if let Some(p) = pace {
            // How late this loop ends behind its pace: the next heartbeat's loop lag.
            let due = p.mul_f64(loops as f64);
            let elapsed = started.elapsed();
            lag = elapsed.saturating_sub(due);
            if let Some(left) = due.checked_sub(elapsed) {
                wait(w.opts, left);
            }
        }
    }
    chaos::say_injected(&w.chaos, log);
    Ok(())
}

/// Appends the engine's records: durable first, then counted toward the next snapshot, then
/// (paper chaos only) possibly a crash, then applied.
pub(crate) struct Writer<'a> {
    journal: &'a Journal,
    /// Every other file the engine writes goes through it (the inbox's quarantine).
    pub(crate) storage: &'a dyn Storage,
    pub(crate) layout: &'a Layout,
    limits: &'a Limits,
    /// The configuration the engine runs with: the rules a settings file's values must keep.
    config: &'a Config,
    opts: &'a Options,
    last_seq: u64,
    since_snapshot: u64,
    /// `state/policy.json` as last read: (modified, length), to read it only when it changes.
    policy_seen: Option<(std::time::SystemTime, u64)>,
    /// `state/engine-settings.json` and (supervised) `run/engine-config.json` as followed.
    settings: settings::Follow,
    /// `state/reconcile-choice.json` as followed, and the last choice refused.
    choices: choices::Follow,
    /// The chaos stall before a send happened (it happens once).
    stalled: bool,
    /// "KILL_SWITCH was removed but not released" was said (it is said once).
    kill_switch_noted: bool,
    /// Set by SIGINT / SIGTERM (and the parent-death signal of a supervised engine).
    stop: &'a AtomicBool,
    /// Where `journal/signals/` is read.
    pub(crate) signals: crate::signals::SignalsIn,
    /// The wall clock (an external venue's polling and reconciliation are timed on it).
    pub(crate) clock: &'a dyn Clock,
    /// An external venue (`None`: the paper venue, seen through the state).
    venue: Option<venue::External>,
    /// The chaos plan (paper mode only) and what its broker faults met so far.
    chaos: chaos::ChaosRun,
}

impl Writer<'_> {
    /// Whether the engine must halt now: a stop was asked for, or the supervisor that started
    /// it is gone (it is no longer the parent; the parent-death signal may not have been seen
    /// yet). Checked before every order intent and every send.
    fn halting(&self) -> bool {
        self.stop.load(Ordering::SeqCst) || supervisor_gone(self.opts)
    }

    /// Journal `record` (durable), run the chaos crash hook, apply it to `state`, and log
    /// what it did. Returns its seq.
    pub(crate) fn commit(
        &mut self,
        state: &mut EngineState,
        record: EngineRecord,
        log: &mut dyn FnMut(&str),
    ) -> Result<u64, EngineError> {
        let seq = self.journal.append(record.kind(), &record.body())?;
        self.last_seq = seq;
        self.since_snapshot += 1;
        chaos_crash(self.opts, seq, log);
        let said = say::say(state, &record, seq);
        state
            .apply(&record, self.limits)
            .map_err(|error| EngineError::Apply { seq, error })?;
        for line in &said {
            log(line);
        }
        Ok(seq)
    }
}
