//! The engine loop.
//!
//! Recovery: newest valid snapshot + replay of the journal (`market.bar`, `engine.decision`);
//! a target left pending by a crash is decided now. Then, per bar: build the `market.bar`
//! record, journal it (durable), apply it; if the strategy left a target, build the
//! `engine.decision` record (signal, verdict, order intent), journal it, apply it — the order
//! reaches the paper broker only after its intent is durable.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ballast_core::Clock;
use ballast_core::config::{Config, FeedKind, Mode};
use ballast_core::engine::{
    ApplyError, BarRecord, DecisionRecord, EngineState, InboxRecord, JournalStamp,
    KillSwitchRecord, LiquidationAction, LiquidationRecord, PaperSettingsRecord, STATE_SCHEMA,
    SendOutcome, SentRecord, SettleRecord, TrimRules,
};
use ballast_core::guard::Limits;
use ballast_core::paper::PaperConfig;
use ballast_core::time::Timestamp;
use ballast_store::journal::{JournalError, JournalOptions, OpenPolicy};
use ballast_store::record::RecordRef;
use ballast_store::recovery::{RecoverError, RecoverSpec, recover};
use ballast_store::snapshot::{SnapshotError, Snapshots};
use ballast_store::{Journal, Layout, RealStorage, Storage, SystemClock};

use crate::feed::{Feed, file};
use crate::heartbeat::{self, Heartbeat};

pub use ballast_core::engine::kinds::{
    ALL as RECORD_TYPES, BAR, DECISION, EXPIRED, INBOX, KILL_SWITCH, LIQUIDATION, PAPER_SETTINGS,
    POLICY, SENT, SETTLE, STAMP,
};
mod controls;
mod report;
use controls::{follow_policy, kill_switch};
use report::pipeline_report;

const SNAPSHOT_NAME: &str = "engine";
/// The reports written beside the engine's snapshot, at the same seq.
const REPORT_SNAPSHOTS: &[&str] = &["pipeline", "universe"];

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
}

/// How to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Stop cleanly after this many bars in total (journal included): for tests and demos.
    pub max_bars: Option<u64>,
    /// Overrides `[feed] bars_per_second` (0 = as fast as possible).
    pub bars_per_second: Option<u32>,
    /// Chaos (paper mode only): abort the process right after the journal record with this
    /// seq is durable, as a crash would.
    pub crash_after_seq: Option<u64>,
    /// Chaos (paper mode only): the paper venue's reply to one send in this many is lost (the
    /// outcome is unknown; whether the venue got the order is decided per order, seeded), so
    /// the order stays in flight until a lookup by `client_order_id` settles it.
    pub lost_reply_every: Option<u32>,
    /// Auto-trim rules (set by [`run`] from the configuration).
    pub trim: TrimRules,
    /// Log every bar too (debug level: `RUST_LOG=debug`).
    pub debug: bool,
    /// The supervisor's pid when it started this engine (`engine --supervised`): once it is no
    /// longer the engine's parent — the supervisor died — the engine halts before its next
    /// order, whether or not its parent-death signal arrived.
    pub supervisor: Option<u32>,
    /// Readable when a stop signal arrived (a self-pipe): every wait of the engine — the
    /// pacing between bars, a stall — ends at once on it.
    pub wake: Option<Arc<std::os::unix::net::UnixStream>>,
    /// Chaos (paper mode only): stall this long between the first order intent and its send
    /// (a slow decision path), to show that nothing is sent once a stop is asked for.
    pub stall_before_send_ms: Option<u64>,
}

fn chaos_crash(opts: &Options, seq: u64, log: &mut dyn FnMut(&str)) {
    if opts.crash_after_seq == Some(seq) {
        log(&format!("chaos: crashing right after seq {seq}"));
        std::process::abort();
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_bars: None,
            bars_per_second: None,
            crash_after_seq: None,
            lost_reply_every: None,
            debug: false,
            supervisor: None,
            wake: None,
            stall_before_send_ms: None,
            trim: TrimRules {
                max_total_at_risk_pct: rust_decimal::Decimal::from(25),
                max_failures_before_alert: 3,
                patience_bars: 1,
                twap_slices: 3,
                headroom_pct: rust_decimal::Decimal::from(5),
            },
        }
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

fn apply(state: &mut EngineState, limits: &Limits, rec: &RecordRef<'_>) -> Result<(), String> {
    match &*rec.kind {
        BAR => {
            let r: BarRecord = serde_json::from_str(rec.body.get())
                .map_err(|e| format!("bad market.bar record: {e}"))?;
            state.apply_bar(&r, limits).map_err(|e| e.to_string())
        }
        DECISION => {
            let d: DecisionRecord = serde_json::from_str(rec.body.get())
                .map_err(|e| format!("bad engine.decision record: {e}"))?;
            state.apply_decision(&d, limits).map_err(|e| e.to_string())
        }
        LIQUIDATION => {
            let r: LiquidationRecord = serde_json::from_str(rec.body.get())
                .map_err(|e| format!("bad engine.liquidation record: {e}"))?;
            state.apply_liquidation(&r);
            Ok(())
        }
        KILL_SWITCH => {
            let r: KillSwitchRecord = serde_json::from_str(rec.body.get())
                .map_err(|e| format!("bad engine.kill_switch record: {e}"))?;
            state.apply_kill_switch(&r);
            Ok(())
        }
        EXPIRED => {
            let r: ballast_core::engine::ExpiryRecord = serde_json::from_str(rec.body.get())
                .map_err(|e| format!("bad signal.expired record: {e}"))?;
            state.apply_expiry(&r);
            Ok(())
        }
        POLICY => {
            let r: ballast_core::engine::PolicyRecord = serde_json::from_str(rec.body.get())
                .map_err(|e| format!("bad engine.policy record: {e}"))?;
            state.apply_policy(&r);
            Ok(())
        }
        STAMP => {
            let r: JournalStamp = serde_json::from_str(rec.body.get())
                .map_err(|e| format!("bad journal.stamp record: {e}"))?;
            state.stamp = Some(r);
            Ok(())
        }
        PAPER_SETTINGS => {
            let r: PaperSettingsRecord = serde_json::from_str(rec.body.get())
                .map_err(|e| format!("bad paper.settings record: {e}"))?;
            state.apply_paper_settings(&r);
            Ok(())
        }
        SENT => {
            let r: SentRecord = serde_json::from_str(rec.body.get())
                .map_err(|e| format!("bad order.sent record: {e}"))?;
            state.apply_sent(&r).map_err(|e| e.to_string())
        }
        SETTLE => {
            let r: SettleRecord = serde_json::from_str(rec.body.get())
                .map_err(|e| format!("bad order.settle record: {e}"))?;
            state.apply_settle(&r).map_err(|e| e.to_string())
        }
        INBOX => {
            let r: InboxRecord = serde_json::from_str(rec.body.get())
                .map_err(|e| format!("bad inbox.line record: {e}"))?;
            state.apply_inbox(&r);
            Ok(())
        }
        _ => Ok(()), // other components' records
    }
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
    })
}

/// Run the engine until `stop` is set or `max_bars` is reached. `log` receives one line per
/// notable event.
pub fn run(
    config: &Config,
    data_dir: &Path,
    opts: &Options,
    stop: &AtomicBool,
    log: &mut dyn FnMut(&str),
) -> Result<Report, EngineError> {
    let storage: Arc<dyn Storage> = Arc::new(RealStorage);
    let layout = Layout::new(data_dir);
    // Nothing is written through a link inside the data directory: not the journal, the
    // snapshots, the quarantine copies, the lock (the same refusal `ballast heal` and
    // `ballast journal verify` report).
    if let Some(why) = ballast_core::heal::link_refusal(&layout.symlink_obs()) {
        return Err(EngineError::Link(why));
    }
    layout
        .create(&*storage)
        .map_err(|source| EngineError::DataDir {
            dir: data_dir.to_path_buf(),
            source,
        })?;
    // One engine per data directory, and one runtime (a standalone engine holds the data
    // directory itself), before anything reads or writes the journal.
    let lock = crate::lock::acquire_runtime(data_dir, &layout.run(), opts.supervisor)?;
    if let Some(w) = lock.dir.as_ref().and_then(|d| d.warning(data_dir)) {
        log(&format!("warning: {w}"));
    }
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let limits = Limits::from(config);
    let policy = match config.general.mode {
        Mode::Paper => OpenPolicy::SalvageDangerous,
        Mode::Live => OpenPolicy::RefuseDangerous,
    };
    let spec = RecoverSpec {
        storage: Arc::clone(&storage),
        layout: &layout,
        clock: Arc::clone(&clock),
        opts: JournalOptions::from(&config.journal),
        policy,
        snapshot_name: SNAPSHOT_NAME,
        snapshot_retain: config.journal.snapshot_retain as usize,
        report_snapshots: REPORT_SNAPSHOTS,
        check_record: ballast_core::engine::kinds::check_body,
    };
    let (journal, recovered) = recover(
        &spec,
        || EngineState::new(config),
        &mut |s: &mut EngineState, r| apply(s, &limits, r),
    )?;
    let mut state = recovered.state;
    if state.schema != STATE_SCHEMA {
        return Err(EngineError::Schema {
            found: state.schema,
        });
    }
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
        state.bars, recovered.snapshot_seq, recovered.replayed, recovered.last_seq
    ));
    let mut report = Report {
        recovered_bars: state.bars,
        snapshot_seq: recovered.snapshot_seq,
        replayed: recovered.replayed,
        heals: recovered.heals.len(),
        bars: state.bars,
        last_seq: recovered.last_seq,
        state: state.clone(),
    };

    let mut feed = build_feed(config, log)?;
    feed.skip(state.bars);
    let snapshots = Snapshots {
        storage: &*storage,
        layout: &layout,
        clock: &*clock,
        name: SNAPSHOT_NAME,
        retain: config.journal.snapshot_retain as usize,
    };
    // The universe's eligibility, persisted beside the engine snapshot for operators.
    let universe = Snapshots {
        storage: &*storage,
        layout: &layout,
        clock: &*clock,
        name: "universe",
        retain: 1,
    };
    let bps = opts.bars_per_second.unwrap_or(config.feed.bars_per_second);
    let pace = (bps > 0).then(|| Duration::from_secs_f64(1.0 / f64::from(bps)));
    let mut loops = 0u64;
    let started = Instant::now();
    let opts = &Options {
        crash_after_seq: opts
            .crash_after_seq
            .filter(|_| config.general.mode == Mode::Paper),
        lost_reply_every: opts
            .lost_reply_every
            .filter(|_| config.general.mode == Mode::Paper),
        stall_before_send_ms: opts
            .stall_before_send_ms
            .filter(|_| config.general.mode == Mode::Paper),
        trim: TrimRules::from(config),
        ..opts.clone()
    };

    let mut w = Writer {
        journal: &journal,
        layout: &layout,
        limits: &limits,
        opts,
        last_seq: recovered.last_seq,
        since_snapshot: 0,
        policy_seen: None,
        stalled: false,
        kill_switch_noted: false,
        stop,
    };
    // What operators (and the health monitor) read: pipeline, recent decisions, shadow totals.
    let report_snap = Snapshots {
        storage: &*storage,
        layout: &layout,
        clock: &*clock,
        name: "pipeline",
        retain: 1,
    };
    // Each snapshot is bound to the journal record at the seq it covers (the last durable one).
    let write_snapshots = |state: &EngineState, _seq: u64| -> Result<(), EngineError> {
        let Some((seq, crc)) = journal.durable_record() else {
            return Ok(());
        };
        snapshots.write(seq, crc, state)?;
        universe.write(seq, crc, &state.universe.snapshot())?;
        report_snap.write(seq, crc, &pipeline_report(state))?;
        Ok(())
    };

    // The journal's mode and account: stamped once, then checked at every start.
    let wanted_stamp = JournalStamp {
        mode: config.general.mode.as_str().to_owned(),
        account: match config.general.mode {
            Mode::Paper => "paper".to_owned(),
            Mode::Live => "live".to_owned(),
        },
    };
    match &state.stamp {
        Some(st) if st.mode != wanted_stamp.mode => {
            return Err(EngineError::ModeMismatch {
                journal: st.mode.clone(),
                account: st.account.clone(),
                config: wanted_stamp.mode,
            });
        }
        Some(_) => {}
        None => {
            w.append(STAMP, &wanted_stamp, log)?;
            state.stamp = Some(wanted_stamp);
        }
    }

    // Changed [paper] settings apply from here on, journaled so that replay agrees.
    let wanted = PaperConfig::from(&config.paper);
    if let Some(kept) = state.broker.config().filter(|k| **k != wanted) {
        let r = PaperSettingsRecord {
            previous: kept.clone(),
            now: wanted,
        };
        let seq = w.append(PAPER_SETTINGS, &r, log)?;
        state.apply_paper_settings(&r);
        log(&format!(
            "[paper] settings changed at seq {seq}: slippage {} -> {} bps, fee {} -> {} bps, participation {} -> {}, latency {} -> {} ms",
            r.previous.slippage_bps,
            r.now.slippage_bps,
            r.previous.fee_bps,
            r.now.fee_bps,
            r.previous.participation,
            r.now.participation,
            r.previous.latency_ms,
            r.now.latency_ms
        ));
    }

    // A target left pending by a crash between the two records of a bar.
    decide(&mut state, &mut w, log)?;

    while !w.halting() && opts.max_bars.is_none_or(|m| state.bars < m) {
        crate::inbox::read_inbox(&mut state, config, &mut w, clock.now(), log)?;
        let bar = feed.next_bar();
        let rec = state.bar_record(bar);
        let seq = w.append(BAR, &rec, log)?;
        state
            .apply_bar(&rec, &limits)
            .map_err(|error| EngineError::Apply { seq, error })?;
        for f in &rec.fills {
            log(&format!(
                "{} {} {} @ {} (order {}, fill {})",
                match f.side {
                    ballast_core::domain::Side::Buy => "bought",
                    ballast_core::domain::Side::Sell => "sold",
                },
                f.qty,
                f.symbol,
                f.price,
                f.client_order_id,
                f.fill_id
            ));
        }
        decide(&mut state, &mut w, log)?;
        if w.since_snapshot >= config.journal.snapshot_every_records {
            write_snapshots(&state, w.last_seq)?;
            w.since_snapshot = 0;
        }
        loops += 1;
        let hb = Heartbeat {
            version: ballast_store::files::VERSION,
            pid: std::process::id(),
            loops,
            time: clock.now(),
            bars: state.bars,
            last_seq: w.last_seq,
            status: state.status(),
            view: state.view(config.risk.max_total_at_risk_pct),
        };
        if let Err(e) = heartbeat::write(&layout, &hb) {
            log(&format!("warning: cannot write the heartbeat: {e}"));
        }
        if opts.debug {
            log(&format!("debug: bar {} seq {}", state.bars, w.last_seq));
        }
        if let Some(p) = pace {
            let due = p.mul_f64(loops as f64);
            if let Some(left) = due.checked_sub(started.elapsed()) {
                wait(opts, left);
            }
        }
    }
    if let Some(pid) = opts.supervisor.filter(|_| supervisor_gone(opts)) {
        log(&format!(
            "the supervisor (pid {pid}) is gone: halted before the next order (journal at seq {}); the next supervisor recovers from here",
            w.last_seq
        ));
    }
    if w.since_snapshot > 0 {
        write_snapshots(&state, w.last_seq)?;
    }
    report.bars = state.bars;
    report.last_seq = w.last_seq;
    report.state = state;
    Ok(report)
}

use ballast_core::engine::MAX_STUCK;

/// Appends the engine's records: durable first, then counted toward the next snapshot, then
/// (paper chaos only) possibly a crash.
pub(crate) struct Writer<'a> {
    journal: &'a Journal,
    pub(crate) layout: &'a Layout,
    limits: &'a Limits,
    opts: &'a Options,
    last_seq: u64,
    since_snapshot: u64,
    /// `state/policy.json` as last read: (modified, length), to read it only when it changes.
    policy_seen: Option<(std::time::SystemTime, u64)>,
    /// The chaos stall before a send happened (it happens once).
    stalled: bool,
    /// "KILL_SWITCH was removed but not released" was said (it is said once).
    kill_switch_noted: bool,
    /// Set by SIGINT / SIGTERM (and the parent-death signal of a supervised engine).
    stop: &'a AtomicBool,
}

impl Writer<'_> {
    /// Whether the engine must halt now: a stop was asked for, or the supervisor that started
    /// it is gone (it is no longer the parent; the parent-death signal may not have been seen
    /// yet). Checked before every order intent and every send.
    fn halting(&self) -> bool {
        self.stop.load(Ordering::SeqCst) || supervisor_gone(self.opts)
    }

    pub(crate) fn append<T: serde::Serialize + ?Sized>(
        &mut self,
        kind: &str,
        body: &T,
        log: &mut dyn FnMut(&str),
    ) -> Result<u64, EngineError> {
        let seq = self.journal.append(kind, body)?;
        self.last_seq = seq;
        self.since_snapshot += 1;
        chaos_crash(self.opts, seq, log);
        Ok(seq)
    }
}

/// Auto-trim, then every pending target: each record journaled, then applied.
fn decide(
    state: &mut EngineState,
    w: &mut Writer<'_>,
    log: &mut dyn FnMut(&str),
) -> Result<(), EngineError> {
    // Halting: no new intent and no send (intents already journaled are sent by the next
    // start's recovery).
    if w.halting() {
        return Ok(());
    }
    kill_switch(state, w, log)?;
    follow_policy(state, w, log)?;
    // The stuck-signal healer, on market time (so replay decides the same).
    if let Some(now) = state.last_bar {
        if let Some(r) = state.expiry_record(now) {
            w.append(EXPIRED, &r, log)?;
            state.apply_expiry(&r);
            for (id, why) in &r.expired {
                log(&format!("heal: signal {id} expired: {why}"));
            }
            for id in &r.cancelled {
                log(&format!("heal: order {id} of an expired signal cancelled"));
            }
        }
    }
    let gate = state.gate();
    if w.halting() {
        return Ok(());
    }
    if let Some(r) = state.plan_liquidations(&w.opts.trim, &gate) {
        w.append(LIQUIDATION, &r, log)?;
        state.apply_liquidation(&r);
        for a in &r.actions {
            match a {
                LiquidationAction::Start { liquidation: l } => log(&format!(
                    "liquidation {} {} {} {}: {}",
                    l.id, l.side, l.remaining, l.symbol, l.reason
                )),
                LiquidationAction::Place {
                    id, step, order, ..
                } => log(&format!(
                    "liquidation {id}: {step} order {} {} {}",
                    order.client_order_id, order.side, order.qty
                )),
                LiquidationAction::GiveUp { id, remaining } => log(&format!(
                    "liquidation {id}: path exhausted with {remaining} left"
                )),
                LiquidationAction::TrimEnded {
                    success,
                    exposure_pct,
                    cap_pct,
                } => log(&format!(
                    "auto-trim ended ({}): exposure {exposure_pct} % of equity, cap {cap_pct} %",
                    if *success { "under the cap" } else { "FAILED" }
                )),
                LiquidationAction::Alert {
                    failures,
                    exposure_pct,
                    cap_pct,
                    excess_usd,
                } => log(&format!(
                    "CRITICAL: auto-trim failed {failures} times in a row: exposure {exposure_pct} % of equity > cap {cap_pct} % (excess {excess_usd} USD)"
                )),
            }
        }
    }
    while let Some(d) = state.decide(w.limits, &gate) {
        if w.halting() {
            return Ok(());
        }
        let seq = w.append(DECISION, &d, log)?;
        state
            .apply_decision(&d, w.limits)
            .map_err(|error| EngineError::Apply { seq, error })?;
        match &d.order {
            Some(o) => log(&format!(
                "{} {} {} ({}), guard {} -> order {} (signal {})",
                o.side,
                o.qty,
                o.symbol,
                why(&d),
                verdict_word(&d),
                o.client_order_id,
                d.signal
            )),
            None => log(&format!(
                "no order for {} {} {} ({}) -> {} (signal {})",
                d.side,
                d.candidate_qty,
                d.symbol,
                why(&d),
                verdict_word(&d),
                d.signal
            )),
        }
    }
    send_orders(state, w, log)
}

/// At most `limit` bytes of `path` (a longer file is an error, never read whole).
/// Settle orders whose outcome is unknown by looking them up, then send the intents — each
/// answer journaled, then applied.
fn send_orders(
    state: &mut EngineState,
    w: &mut Writer<'_>,
    log: &mut dyn FnMut(&str),
) -> Result<(), EngineError> {
    let now = state.last_bar.unwrap_or(Timestamp::EPOCH);
    if w.halting() {
        return Ok(());
    }
    for r in state.paper_lookups(now) {
        let seq = w.append(SETTLE, &r, log)?;
        state
            .apply_settle(&r)
            .map_err(|error| EngineError::Apply { seq, error })?;
        log(&format!(
            "order {} looked up: {}",
            r.client_order_id,
            if r.found {
                "the venue has it (settled)"
            } else {
                "the venue never got it; sending it again with the same id"
            }
        ));
    }
    for mut r in state.paper_sends(now) {
        if let Some(ms) = w.opts.stall_before_send_ms.filter(|_| !w.stalled) {
            w.stalled = true;
            log(&format!(
                "chaos: stalling {ms} ms before sending order {}",
                r.client_order_id
            ));
            wait(w.opts, Duration::from_millis(ms));
        }
        if w.halting() {
            return Ok(());
        }
        if let Some(received) = lost_reply(w.opts, &r) {
            r.outcome = SendOutcome::Unknown {
                error: "chaos: the paper venue's reply was lost".into(),
                paper_venue_received: received,
            };
        }
        let seq = w.append(SENT, &r, log)?;
        state
            .apply_sent(&r)
            .map_err(|error| EngineError::Apply { seq, error })?;
        match &r.outcome {
            SendOutcome::Accepted => {}
            SendOutcome::Rejected { reason } => log(&format!(
                "order {} rejected by the venue: {reason}",
                r.client_order_id
            )),
            SendOutcome::Unknown { error, .. } => log(&format!(
                "order {} (attempt {}): no answer ({error}); in flight until a lookup settles it",
                r.client_order_id, r.attempt
            )),
        }
    }
    Ok(())
}

/// A supervised engine's supervisor is no longer its parent.
fn supervisor_gone(opts: &Options) -> bool {
    opts.supervisor.is_some_and(|pid| {
        rustix::process::getppid().is_none_or(|p| p.as_raw_nonzero().get() as u32 != pid)
    })
}

/// Wait `d`, or less when a stop signal arrives (the wake pipe becomes readable).
fn wait(opts: &Options, d: Duration) {
    let Some(wake) = &opts.wake else {
        std::thread::sleep(d);
        return;
    };
    use rustix::event::{PollFd, PollFlags, Timespec};
    let until = Instant::now() + d;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        let ts = Timespec {
            tv_sec: i64::try_from(left.as_secs()).unwrap_or(i64::MAX),
            tv_nsec: i64::from(left.subsec_nanos()),
        };
        let mut fds = [PollFd::new(&**wake, PollFlags::IN)];
        match rustix::event::poll(&mut fds, Some(&ts)) {
            Ok(0) | Err(rustix::io::Errno::INTR) => {}
            // Readable (a stop signal), or poll failed: stop waiting.
            _ => return,
        }
    }
}

/// Paper chaos: is the reply to this send lost, and if so did the venue get the order?
/// Seeded by the order id and attempt, so a restarted engine makes the same choices.
fn lost_reply(opts: &Options, r: &SentRecord) -> Option<bool> {
    let every = u64::from(opts.lost_reply_every?);
    let h = ballast_core::hash::fnv1a(
        r.client_order_id
            .as_str()
            .bytes()
            .chain(r.attempt.to_le_bytes()),
    );
    (h % every == 0).then_some((h >> 32) & 1 == 1)
}

/// The strategy and its reason, the strategy named once (`sma_cross: sma_cross 10/30 cross
/// up` reads `sma_cross 10/30 cross up`).
fn why(d: &DecisionRecord) -> String {
    if d.reason.starts_with(&d.strategy) {
        d.reason.clone()
    } else {
        format!("{}: {}", d.strategy, d.reason)
    }
}

fn verdict_word(d: &DecisionRecord) -> String {
    use ballast_core::guard::Verdict;
    match &d.verdict {
        Verdict::Approve => "approved".into(),
        Verdict::Resize { qty, reasons } => format!(
            "resized to {qty}: {}",
            reasons
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        ),
        Verdict::Reject { reasons } => format!(
            "rejected: {}",
            reasons
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        ),
    }
}
