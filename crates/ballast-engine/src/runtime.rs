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
    ApplyError, BarRecord, DecisionRecord, EngineState, InboxOutcome, InboxRecord, JournalStamp,
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
    BAR, DECISION, EXPIRED, INBOX, KILL_SWITCH, LIQUIDATION, PAPER_SETTINGS, POLICY, SENT, SETTLE,
    STAMP,
};
/// Bytes of the inbox read per loop, at most.
const INBOX_CHUNK: u64 = 64 * 1024;
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
    layout
        .create(&*storage)
        .map_err(|source| EngineError::DataDir {
            dir: data_dir.to_path_buf(),
            source,
        })?;
    // One engine per data directory, before anything reads or writes the journal.
    let _lock = crate::lock::acquire(&layout.run())?;
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

    while !stop.load(Ordering::Relaxed) && opts.max_bars.is_none_or(|m| state.bars < m) {
        read_inbox(&mut state, config, &mut w, log)?;
        let bar = feed.next_bar();
        let rec = state.bar_record(bar);
        let seq = w.append(BAR, &rec, log)?;
        state
            .apply_bar(&rec, &limits)
            .map_err(|error| EngineError::Apply { seq, error })?;
        for f in &rec.fills {
            log(&format!(
                "fill {} {} {} {} @ {} ({})",
                f.fill_id, f.symbol, f.side, f.qty, f.price, f.client_order_id
            ));
        }
        decide(&mut state, &mut w, log)?;
        if w.since_snapshot >= config.journal.snapshot_every_records {
            write_snapshots(&state, w.last_seq)?;
            w.since_snapshot = 0;
        }
        loops += 1;
        let hb = Heartbeat {
            pid: std::process::id(),
            loops,
            time: clock.now(),
            bars: state.bars,
            last_seq: w.last_seq,
            status: state.status(),
        };
        if let Err(e) = heartbeat::write(&layout.run(), &hb) {
            log(&format!("warning: cannot write the heartbeat: {e}"));
        }
        log(&format!("bar {} seq {}", state.bars, w.last_seq));
        if let Some(p) = pace {
            let due = p.mul_f64(loops as f64);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
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
/// Recent decisions in the pipeline report.
const REPORT_DECISIONS: usize = 50;

#[derive(serde::Serialize)]
struct PipelineFile<'a> {
    pipeline: ballast_core::pipeline::PipelineReport,
    stats: &'a ballast_core::engine::Stats,
    recent_decisions: Vec<&'a ballast_core::pipeline::Decision>,
    shadow: &'a ballast_core::shadow::ShadowTotals,
    trim_failures: u32,
    liquidations_in_progress: usize,
}

/// The pipeline report, on the engine's (market) time.
fn pipeline_report(state: &EngineState) -> PipelineFile<'_> {
    let now = state.last_bar.unwrap_or(ballast_core::Timestamp::EPOCH);
    PipelineFile {
        pipeline: {
            let (stuck, age) = state.stale_thresholds();
            ballast_core::pipeline::report(&state.signals, now, stuck, age, MAX_STUCK)
        },
        stats: &state.stats,
        recent_decisions: state.decisions.recent().take(REPORT_DECISIONS).collect(),
        shadow: &state.shadow.totals,
        trim_failures: state.trim_failures,
        liquidations_in_progress: state.liquidations.len(),
    }
}

/// Appends the engine's records: durable first, then counted toward the next snapshot, then
/// (paper chaos only) possibly a crash.
struct Writer<'a> {
    journal: &'a Journal,
    layout: &'a Layout,
    limits: &'a Limits,
    opts: &'a Options,
    last_seq: u64,
    since_snapshot: u64,
    /// `state/policy.json` as last read: (modified, length), to read it only when it changes.
    policy_seen: Option<(std::time::SystemTime, u64)>,
}

impl Writer<'_> {
    fn append<T: serde::Serialize + ?Sized>(
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
    // The kill switch is the KILL_SWITCH file (`ballast kill` / `ballast resume`, with or
    // without a supervisor); each change is journaled, and engaging cancels open orders.
    let engaged = w.layout.kill_switch().exists();
    let file: Option<serde_json::Value> = engaged
        .then(|| std::fs::read_to_string(w.layout.kill_switch()).ok())
        .flatten()
        .and_then(|t| serde_json::from_str(&t).ok());
    let flatten = file.as_ref().is_some_and(|v| v["flatten"] == true);
    let flattened = state.kill_switch.as_ref().is_some_and(|k| k.flatten);
    if engaged != state.kill_switch.is_some() || (engaged && flatten && !flattened) {
        let reason = if engaged {
            file.as_ref()
                .and_then(|v| v["reason"].as_str().map(str::to_owned))
                .unwrap_or_else(|| "KILL_SWITCH file present".to_owned())
        } else {
            "KILL_SWITCH file removed".to_owned()
        };
        let at = state.last_bar.unwrap_or(Timestamp::EPOCH);
        let r = state.kill_switch_record(engaged, reason, flatten, at);
        w.append(KILL_SWITCH, &r, log)?;
        let open = state.orders.len();
        state.apply_kill_switch(&r);
        log(&if engaged {
            format!(
                "KILL SWITCH ENGAGED ({}): trading HALTED, {open} open order(s) cancelled{}",
                r.reason,
                if r.flatten {
                    format!(", {} position(s) being closed at market", r.orders.len())
                } else {
                    String::new()
                }
            )
        } else {
            "kill switch released: trading resumes".to_owned()
        });
    }
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
                    "liquidation {id}: {step:?} order {} {} {}",
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
        let seq = w.append(DECISION, &d, log)?;
        state
            .apply_decision(&d, w.limits)
            .map_err(|error| EngineError::Apply { seq, error })?;
        match &d.order {
            Some(o) => log(&format!(
                "signal {} {} -> order {} {} {} {} ({})",
                d.signal,
                d.reason,
                o.client_order_id,
                o.side,
                o.qty,
                o.symbol,
                verdict_word(&d)
            )),
            None => log(&format!(
                "signal {} {} {} -> {}",
                d.signal,
                d.reason,
                d.symbol,
                verdict_word(&d)
            )),
        }
    }
    send_orders(state, w, log)
}

/// The supervisor's safety policy (`state/policy.json`, written by its health monitor): each
/// change is journaled (`engine.policy`), then applied — entering DEFENSIVE_EXIT places the
/// closing orders of the riskiest positions. A missing or unreadable file changes nothing:
/// the last journaled policy stays in force (a restart never re-arms trading).
fn follow_policy(
    state: &mut EngineState,
    w: &mut Writer<'_>,
    log: &mut dyn FnMut(&str),
) -> Result<(), EngineError> {
    let path = w.layout.state().join("policy.json");
    let Ok(meta) = std::fs::metadata(&path) else {
        return Ok(());
    };
    let seen = (meta.modified().unwrap_or(std::time::UNIX_EPOCH), meta.len());
    if w.policy_seen == Some(seen) {
        return Ok(());
    }
    w.policy_seen = Some(seen);
    #[derive(serde::Deserialize)]
    struct File {
        policy: ballast_core::policy::Policy,
        reason: String,
    }
    let file: File = match std::fs::read_to_string(&path)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
    {
        Ok(f) => f,
        Err(e) => {
            log(&format!(
                "warning: {} cannot be read ({e}); the policy in force stays {}",
                path.display(),
                state.policy().as_str()
            ));
            return Ok(());
        }
    };
    if file.policy == state.policy() {
        return Ok(());
    }
    let at = state.last_bar.unwrap_or(Timestamp::EPOCH);
    let r = state.policy_record(file.policy, file.reason, at);
    w.append(POLICY, &r, log)?;
    let from = state.policy();
    state.apply_policy(&r);
    log(&format!(
        "safety policy {} -> {} ({}): trading {:?}{}",
        from.as_str(),
        r.policy.as_str(),
        r.reason,
        r.policy.trading_state(),
        if r.orders.is_empty() {
            String::new()
        } else {
            format!(
                ", closing {} riskiest position(s) at market",
                r.orders.len()
            )
        }
    ));
    Ok(())
}

/// Settle orders whose outcome is unknown by looking them up, then send the intents — each
/// answer journaled, then applied.
fn send_orders(
    state: &mut EngineState,
    w: &mut Writer<'_>,
    log: &mut dyn FnMut(&str),
) -> Result<(), EngineError> {
    let now = state.last_bar.unwrap_or(Timestamp::EPOCH);
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

/// Consume the complete lines appended to `inbox/signals.jsonl` since the last time (the
/// offset is part of the engine state, journaled with each line). A bad line is copied to
/// quarantine with its line number and never blocks the lines after it; a line still being
/// written (no newline yet) waits for the next loop.
fn read_inbox(
    state: &mut EngineState,
    config: &Config,
    w: &mut Writer<'_>,
    log: &mut dyn FnMut(&str),
) -> Result<(), EngineError> {
    use std::io::{Read, Seek, SeekFrom};
    let layout = w.layout;
    let path = layout.inbox().join("signals.jsonl");
    let Ok(meta) = std::fs::metadata(&path) else {
        return Ok(());
    };
    fn commit(
        state: &mut EngineState,
        w: &mut Writer<'_>,
        rec: InboxRecord,
        log: &mut dyn FnMut(&str),
    ) -> Result<(), EngineError> {
        w.append(INBOX, &rec, log)?;
        state.apply_inbox(&rec);
        Ok(())
    }
    if meta.len() < state.inbox_offset {
        log(&format!(
            "warning: inbox/signals.jsonl is shorter ({} bytes) than what was read ({} bytes): it was truncated or rotated; reading it from the start",
            meta.len(),
            state.inbox_offset
        ));
        let previous_offset = state.inbox_offset;
        commit(
            state,
            w,
            InboxRecord {
                offset_after: 0,
                line: 0,
                outcome: InboxOutcome::Reset { previous_offset },
            },
            log,
        )?;
    }
    if meta.len() == state.inbox_offset || !state.inbox_has_room() {
        return Ok(());
    }
    let mut buf = Vec::new();
    let read = std::fs::File::open(&path).and_then(|mut f| {
        f.seek(SeekFrom::Start(state.inbox_offset))?;
        f.take(INBOX_CHUNK).read_to_end(&mut buf)
    });
    if let Err(e) = read {
        log(&format!("warning: cannot read inbox/signals.jsonl: {e}"));
        return Ok(());
    }
    let mut start = 0usize;
    while let Some(nl) = buf[start..].iter().position(|b| *b == b'\n') {
        if !state.inbox_has_room() {
            break;
        }
        let raw = &buf[start..start + nl];
        let offset_after = state.inbox_offset + (nl + 1) as u64;
        let line = state.inbox_lines + 1;
        start += nl + 1;
        let parsed = std::str::from_utf8(raw)
            .map_err(|_| "the line is not UTF-8".to_owned())
            .and_then(|t| {
                if t.trim().is_empty() {
                    Err("empty line".to_owned())
                } else {
                    Ok(t)
                }
            })
            .and_then(|t| ballast_core::inbox::parse_line(t.trim(), &config.feed.symbols));
        let outcome = match parsed {
            Ok(signal) => {
                log(&format!(
                    "inbox line {line}: accepted {} {:?} ({})",
                    signal.symbol, signal.ask, signal.reason
                ));
                InboxOutcome::Accepted { signal }
            }
            Err(error) => {
                let quarantined = if raw.iter().all(u8::is_ascii_whitespace) {
                    None
                } else {
                    quarantine_line(layout, line, raw)
                };
                log(&format!(
                    "inbox line {line} rejected: {error}{}",
                    quarantined
                        .as_ref()
                        .map(|q| format!(" (copied to {q})"))
                        .unwrap_or_default()
                ));
                InboxOutcome::Rejected { error, quarantined }
            }
        };
        commit(
            state,
            w,
            InboxRecord {
                offset_after,
                line,
                outcome,
            },
            log,
        )?;
    }
    Ok(())
}

/// Copy a rejected inbox line to `quarantine/inbox/signals.jsonl.line-<n>.corrupt.<UTC>`.
fn quarantine_line(layout: &Layout, line: u64, raw: &[u8]) -> Option<String> {
    let dir = layout.quarantine().join("inbox");
    let stamp: String = SystemClock
        .now()
        .to_string()
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .collect();
    let path = dir.join(format!("signals.jsonl.line-{line}.corrupt.{stamp}"));
    let write = std::fs::create_dir_all(&dir).and_then(|()| {
        let mut data = raw.to_vec();
        data.push(b'\n');
        std::fs::write(&path, data)
    });
    write.ok().map(|()| layout.display(&path))
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
