//! The read-only follower of the engine's journal (SPEC §2, issue 13 item 1): the engine state
//! the API shows is the engine's own state type, rebuilt exactly as the engine rebuilds it —
//! the newest usable snapshot chosen by the same recovery decision, then the same pure fold
//! ([`EngineState::apply`]) over the records after it — and kept current by folding only the
//! records appended since (a [`tail::Tail`] remembers the segment and byte offset; each step
//! reads a bounded number of bytes). There is no second state model for the engine to keep in
//! sync.
//!
//! It never writes to the data directory and never takes (or tests) the engine's lock. A
//! corrupt record, a seq gap or a snapshot that cannot be read is not a crash: the view says
//! so ([`Status::Broken`], answered 503 with the reason) and is rebuilt from the journal as it
//! then is, after [`RETRY_MS`] and less often while it stays broken — so it recovers when the journal is repaired. A journal that
//! ends inside a record for longer than [`TORN_AFTER_MS`] (an engine that died mid-append) is
//! shown with a warning: its valid prefix is exactly what the engine will recover.
//!
//! The ops journal (`journal/ops/`) is followed the same way, without a state. Every record
//! read, and every change of the supervisor's published health, goes to the [`hub::Hub`] of
//! `/v1/events`.

pub mod history;
pub mod hub;
pub mod tail;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ballast_core::config::{Config, Mode};
use ballast_core::engine::{EngineRecord, EngineState, TrimRules, kinds};
use ballast_core::guard::Limits;
use ballast_store::journal::Verdict;
use ballast_store::recovery::{AssessSpec, assess_visiting};
use ballast_store::snapshot::Snapshots;
use ballast_store::{Layout, RealStorage, SystemClock};
use ballast_supervisor::surface::Published;

use history::{History, OpsHistory, OpsItem};
use hub::{Hub, Source};
use tail::{RawRecord, Step, Tail};

/// How long the follower waits when there is nothing new (the journals are looked at this
/// often: a record is on `/v1/events` at most about this long after it is durable).
pub const POLL_MS: u64 = 5;
/// A broken view is rebuilt from the journal after this long, twice as long after each
/// further failure, at most [`RETRY_MAX_MS`] (a rebuild reads the whole journal).
pub const RETRY_MS: u64 = 1_000;
pub const RETRY_MAX_MS: u64 = 30_000;

/// The wait before rebuilding after the `failures`-th failure in a row (1, 2, …).
pub fn retry_delay_ms(failures: u32) -> u64 {
    RETRY_MS
        .saturating_mul(1 << failures.saturating_sub(1).min(5))
        .min(RETRY_MAX_MS)
}
/// A journal ending inside a record for this long is taken for a torn tail (warned about).
pub const TORN_AFTER_MS: u64 = 2_000;

/// Where a followed journal stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Reading the snapshot and the records after it.
    Loading,
    Ready,
    /// Cannot follow: what is wrong, where, and what happens next.
    Broken(String),
}

/// What the routes read: the engine's state and the histories, as of `engine_seq`.
#[derive(Debug)]
pub struct View {
    pub status: Status,
    /// The configured auto-trim rules (the journaled settings' win: `EngineState::trim_or`).
    pub trim: TrimRules,
    /// Set while the engine journal ends inside a record (a torn tail), in words.
    pub warning: Option<String>,
    pub state: Option<EngineState>,
    /// The seq of the last engine record folded.
    pub engine_seq: u64,
    pub history: History,
    pub ops_status: Status,
    pub ops: OpsHistory,
}

/// Where and what to follow.
#[derive(Clone)]
pub struct FollowOptions {
    pub data_dir: PathBuf,
    /// The configuration the engine runs with: its empty state and its guard limits before
    /// the journal's own settings (the same as the engine's recovery uses).
    pub config: Arc<Config>,
    /// The supervisor's published health (`None`: a standalone engine).
    pub published: Option<Arc<Published>>,
    pub poll: Duration,
}

impl FollowOptions {
    pub fn new(data_dir: impl Into<PathBuf>, config: Arc<Config>) -> FollowOptions {
        FollowOptions {
            data_dir: data_dir.into(),
            config,
            published: None,
            poll: Duration::from_millis(POLL_MS),
        }
    }
}

struct Shared {
    view: RwLock<View>,
    hub: Hub,
    stop: AtomicBool,
}

/// The follower: a thread reading the journals, and the view it keeps.
pub struct Follower {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Follower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Follower")
    }
}

impl Follower {
    /// Start following (the thread stops when the follower is dropped).
    pub fn start(opts: FollowOptions) -> std::io::Result<Follower> {
        let shared = Arc::new(Shared {
            view: RwLock::new(View {
                status: Status::Loading,
                trim: TrimRules::from(&*opts.config),
                warning: None,
                state: None,
                engine_seq: 0,
                history: History::default(),
                ops_status: Status::Loading,
                ops: OpsHistory::default(),
            }),
            hub: Hub::default(),
            stop: AtomicBool::new(false),
        });
        let s = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("ballast-api-follow".into())
            .spawn(move || run(&s, &opts))?;
        Ok(Follower {
            shared,
            thread: Some(thread),
        })
    }

    /// The view (a read lock: keep it short).
    pub fn view(&self) -> RwLockReadGuard<'_, View> {
        self.shared
            .view
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn hub(&self) -> &Hub {
        &self.shared.hub
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(shared: &Shared, opts: &FollowOptions) {
    let layout = Layout::new(&opts.data_dir);
    let mut engine = EngineSide {
        layout: layout.clone(),
        config: Arc::clone(&opts.config),
        limits: Limits::from(&*opts.config),
        trim: TrimRules::from(&*opts.config),
        tail: None,
        indexed_through: 0,
        published_through: 0,
        retry_at: None,
        failures: 0,
        partial_since: None,
    };
    let mut ops = OpsSide {
        dir: layout.ops_journal(),
        tail: Tail::new(&layout.ops_journal(), 1),
        published_through: 0,
        retry_at: None,
    };
    let mut health = HealthWatch::default();
    while !shared.stop.load(Ordering::Relaxed) {
        let mut busy = engine.step(shared);
        busy |= ops.step(shared);
        if let Some(p) = &opts.published {
            health.step(shared, p);
        }
        if !busy {
            std::thread::sleep(opts.poll);
        }
    }
}

fn write(shared: &Shared) -> std::sync::RwLockWriteGuard<'_, View> {
    shared
        .view
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The event of a journal record: `{"seq","ts","type","body"}`.
fn event_data(r: &RawRecord) -> String {
    format!(
        "{{\"seq\":{},\"ts\":\"{}\",\"type\":{},\"body\":{}}}",
        r.seq,
        r.ts,
        serde_json::Value::String(r.kind.clone()),
        r.body.get()
    )
}

struct EngineSide {
    layout: Layout,
    config: Arc<Config>,
    limits: Limits,
    trim: TrimRules,
    tail: Option<Tail>,
    /// Records up to here are in the histories (from the load's scan).
    indexed_through: u64,
    /// Records up to here were published to the hub.
    published_through: u64,
    retry_at: Option<Instant>,
    /// Failed loads in a row.
    failures: u32,
    partial_since: Option<Instant>,
}

impl EngineSide {
    /// One step; whether there may be more to do at once.
    fn step(&mut self, shared: &Shared) -> bool {
        let Some(tail) = &mut self.tail else {
            return self.load(shared);
        };
        match tail.step() {
            Step::Records(records) => {
                self.partial_since = None;
                self.fold(shared, &records);
                true
            }
            Step::Idle { partial } => {
                let mut view = write(shared);
                if view.status == Status::Loading {
                    view.status = Status::Ready;
                    self.failures = 0;
                }
                let place = if partial { tail.place() } else { String::new() };
                view.warning = self.torn(partial, &place);
                false
            }
            Step::Broken(why) => {
                self.broken(shared, why);
                false
            }
            Step::Reset(why) => {
                tracing::info!(target: "ballast_api::follow", "engine journal: {why}; reading it again");
                self.tail = None;
                self.retry_at = None;
                true
            }
        }
    }

    fn torn(&mut self, partial: bool, place: &str) -> Option<String> {
        if !partial {
            self.partial_since = None;
            return None;
        }
        let since = *self.partial_since.get_or_insert_with(Instant::now);
        (since.elapsed() >= Duration::from_millis(TORN_AFTER_MS)).then(|| {
            format!(
                "the engine journal ends inside a record at {place} (a torn tail: the engine stopped mid-append); the view shows the records before it, which is what the engine recovers"
            )
        })
    }

    fn broken(&mut self, shared: &Shared, why: String) {
        self.failures = self.failures.saturating_add(1);
        let delay = retry_delay_ms(self.failures);
        let mut view = write(shared);
        let msg = format!(
            "the engine journal cannot be followed: {why}. The view stays at seq {} and is rebuilt from the journal in {delay} ms (less often while it stays broken, at least every {RETRY_MAX_MS} ms); `ballast journal verify` shows the details",
            view.engine_seq
        );
        if view.status != Status::Broken(msg.clone()) {
            tracing::warn!(target: "ballast_api::follow", "{msg}");
        }
        view.status = Status::Broken(msg);
        self.tail = None;
        self.retry_at = Some(Instant::now() + Duration::from_millis(delay));
    }

    /// Fold records into the state, the histories and the hub.
    fn fold(&mut self, shared: &Shared, records: &[RawRecord]) {
        let mut view = write(shared);
        let mut failed = None;
        for r in records {
            let rec = match EngineRecord::decode(&r.kind, r.body.get()) {
                Ok(rec) => rec,
                Err(e) => {
                    failed = Some(format!("record seq {}: {e}", r.seq));
                    break;
                }
            };
            let View { state, history, .. } = &mut *view;
            let Some(state) = state.as_mut() else { break };
            if let Err(e) = state.apply(&rec, &self.limits) {
                failed = Some(format!("record seq {} does not apply: {e}", r.seq));
                break;
            }
            if r.seq > self.indexed_through {
                history.index(r.seq, &rec);
                if matches!(rec, EngineRecord::Bar(_)) {
                    history.equity_point(r.seq, state, &self.trim);
                }
            }
            view.engine_seq = r.seq;
            if r.seq > self.published_through {
                shared
                    .hub
                    .push(Source::Engine, r.seq, hub::family(&r.kind), event_data(r));
                self.published_through = r.seq;
            }
        }
        drop(view);
        if let Some(why) = failed {
            self.broken(shared, why);
        }
    }

    /// Rebuild from the newest usable snapshot; whether to step again at once.
    fn load(&mut self, shared: &Shared) -> bool {
        if self.retry_at.is_some_and(|t| Instant::now() < t) {
            return false;
        }
        match self.try_load(shared) {
            Ok(()) => true,
            Err(why) => {
                self.broken(shared, why);
                false
            }
        }
    }

    fn try_load(&mut self, shared: &Shared) -> Result<(), String> {
        let read = self.read_journal()?;
        let (snapshot_seq, state) = self.read_snapshot(read.snapshot)?;
        if read.last_seq < self.published_through {
            shared.hub.rewind(Source::Engine, read.last_seq);
        }
        for r in &read.backlog {
            shared
                .hub
                .push(Source::Engine, r.seq, hub::family(&r.kind), event_data(r));
        }
        self.published_through = read.last_seq;
        self.indexed_through = read.last_seq;
        self.tail = Some(Tail::new(&self.layout.engine_journal(), snapshot_seq + 1));
        self.partial_since = None;
        let mut view = write(shared);
        view.status = Status::Loading;
        view.state = Some(state);
        view.engine_seq = snapshot_seq;
        view.history = read.history;
        Ok(())
    }

    /// One read of the whole journal, as the engine's recovery reads it (the same assessment
    /// and decision), building the histories and the events not yet published on the way.
    fn read_journal(&self) -> Result<JournalRead, String> {
        let mut history = History::default();
        // The equity history needs the state after every bar, also before the snapshot: a
        // fold of the whole journal from the empty state (the same fold), for the history
        // only. It costs about what the scan costs; a record it cannot apply ends it.
        let mut fold = Some(EngineState::new(&self.config));
        let mut backlog: VecDeque<RawRecord> = VecDeque::new();
        let assessment = assess_visiting(
            &AssessSpec {
                storage: &RealStorage,
                layout: &self.layout,
                clock: &SystemClock,
                snapshot_name: ballast_engine::runtime::SNAPSHOT_NAME,
                report_snapshots: ballast_engine::runtime::REPORT_SNAPSHOTS,
                check_record: kinds::check_body,
                check_state: &kinds::check_state,
                // Never look at the engine's lock (testing it is taking it for a moment).
                engine_may_run: false,
            },
            &mut |r| {
                if let Ok(rec) = EngineRecord::decode(&r.kind, r.body.get()) {
                    history.index(r.seq, &rec);
                    if fold
                        .as_mut()
                        .is_some_and(|s| s.apply(&rec, &self.limits).is_err())
                    {
                        fold = None;
                    }
                    if let (Some(s), EngineRecord::Bar(_)) = (&fold, &rec) {
                        history.equity_point(r.seq, s, &self.trim);
                    }
                }
                if r.seq > self.published_through {
                    backlog.push_back(RawRecord {
                        seq: r.seq,
                        ts: r.ts,
                        kind: r.kind.to_string(),
                        body: r.body.to_owned(),
                    });
                    if backlog.len() > hub::EVENTS_KEPT_COUNT {
                        backlog.pop_front();
                    }
                }
                Ok(())
            },
        )
        .map_err(|e| format!("cannot read the engine snapshots: {e}"))?;
        let last_seq = match (&assessment.scan, &assessment.facts.journal) {
            (Some(s), _) => match &s.verdict {
                Verdict::Dangerous(d) => return Err(format!("it is damaged at {d}")),
                _ => s.last_seq,
            },
            (None, Err(e)) => return Err(format!("cannot read the engine journal: {e}")),
            (None, Ok(_)) => return Err("cannot read the engine journal".into()),
        };
        Ok(JournalRead {
            last_seq,
            snapshot: assessment.decide(Mode::Paper).snapshot.map(|(seq, _)| seq),
            history,
            backlog,
        })
    }

    /// The state of the snapshot recovery chose (`None`: the empty state, a full replay).
    fn read_snapshot(&self, seq: Option<u64>) -> Result<(u64, EngineState), String> {
        let Some(seq) = seq else {
            return Ok((0, EngineState::new(&self.config)));
        };
        let snaps = Snapshots {
            storage: &RealStorage,
            layout: &self.layout,
            clock: &SystemClock,
            name: ballast_engine::runtime::SNAPSHOT_NAME,
            retain: usize::MAX,
        };
        snaps
            .read_state::<EngineState>(seq)
            .map(|state| (seq, state))
            .map_err(|e| format!("cannot read the engine snapshot: {e}"))
    }
}

/// What a read of the whole engine journal found.
struct JournalRead {
    last_seq: u64,
    /// The seq of the snapshot recovery starts from.
    snapshot: Option<u64>,
    history: History,
    /// The records not yet published (the newest [`hub::EVENTS_KEPT_COUNT`]).
    backlog: VecDeque<RawRecord>,
}

struct OpsSide {
    dir: PathBuf,
    tail: Tail,
    published_through: u64,
    retry_at: Option<Instant>,
}

impl OpsSide {
    fn step(&mut self, shared: &Shared) -> bool {
        if self.retry_at.is_some_and(|t| Instant::now() < t) {
            return false;
        }
        match self.tail.step() {
            Step::Records(records) => {
                let mut view = write(shared);
                for r in records {
                    if r.seq > self.published_through {
                        shared
                            .hub
                            .push(Source::Ops, r.seq, hub::family(&r.kind), event_data(&r));
                        self.published_through = r.seq;
                    }
                    view.ops.push(OpsItem {
                        seq: r.seq,
                        ts: r.ts,
                        kind: r.kind,
                        body: r.body,
                    });
                }
                true
            }
            Step::Idle { .. } => {
                let mut view = write(shared);
                if view.ops_status == Status::Loading {
                    view.ops_status = Status::Ready;
                }
                false
            }
            Step::Broken(why) | Step::Reset(why) => {
                let mut view = write(shared);
                view.ops_status = Status::Broken(format!(
                    "the ops journal cannot be followed: {why}. It is read again every {RETRY_MS} ms"
                ));
                view.ops = OpsHistory::default();
                self.tail = Tail::new(&self.dir, 1);
                self.retry_at = Some(Instant::now() + Duration::from_millis(RETRY_MS));
                false
            }
        }
    }
}

/// Publishes a health event when the overall status, score, policy or trading state changes.
#[derive(Default)]
struct HealthWatch {
    last: Option<String>,
}

impl HealthWatch {
    fn step(&mut self, shared: &Shared, published: &Published) {
        let Some(h) = published.health() else { return };
        let key = health_key(&h.report);
        if self.last.as_deref() == Some(key.as_str()) {
            return;
        }
        self.last = Some(key);
        shared
            .hub
            .push(Source::Health, 0, "health", h.json.to_string());
    }
}

/// What a health change is: overall, score, policy, trading state, kill switch.
pub fn health_key(report: &ballast_store::files::health::HealthFile) -> String {
    use ballast_store::files::health::HealthFile;
    let v = match report {
        HealthFile::Report(r) => serde_json::json!([
            r.overall,
            r.score,
            r.policy.policy,
            r.policy.trading_state,
            r.policy.kill_switch,
            r.trading_allowed
        ]),
        HealthFile::Pending(p) => serde_json::json!(["UNKNOWN", p.policy]),
    };
    v.to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn rebuilds_back_off_to_a_bound() {
        let d: Vec<u64> = (1..=8).map(super::retry_delay_ms).collect();
        assert_eq!(
            d,
            [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]
        );
        assert_eq!(super::retry_delay_ms(u32::MAX), 30_000);
    }
}
