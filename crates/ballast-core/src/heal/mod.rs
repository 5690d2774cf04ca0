//! Heal plans (SPEC §4): one pure healer per component turns an observation of that component
//! into actions with reasons, each classified `heal` (safe, the runtime applies it),
//! `dangerous` (reported, never applied: it halts trading in live mode) or `skip` (the mode
//! forbids it). The runtime (`ballast-supervisor`'s `heal` module) observes files and
//! processes, calls [`inspect`], and carries the `heal` actions out — copying whatever it
//! removes into `quarantine/` first and journaling each with before/after.
//!
//! Nothing here touches a file: an observation carries the text or the facts the runtime
//! read, so every healer is testable with plain values.

mod component;
mod files;
mod links;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

use crate::config::Mode;
use crate::recovery::{Decision, RecoveryFacts, Step, decide};

pub use component::Component;
pub use files::{JsonSalvage, JsonlSplit, salvage_json, split_jsonl};
pub use links::{ENGINE_PATHS, SymlinkObs, engine_refusal as link_refusal};

pub use crate::limits::STALE_LOCK_MS;

pub use crate::limits::MAX_ARTIFACT_BYTES;

/// How an action is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// Safe: applied, recorded with before/after.
    Heal,
    /// Reported, never applied; a live start is refused while one is present.
    Dangerous,
    /// The mode forbids it (e.g. killing a process in live mode): reported only.
    Skip,
}

/// The failure classes of SPEC §7.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FailureClass {
    Transient,
    PersistentConfig,
    CodeSchema,
    LogicRisk,
}

/// What the runtime does for a `heal` action. Paths are as the observation gave them
/// (relative to the data directory for Ballast's own files, absolute for declared ones).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// Create the directory (and its parents).
    CreateDir,
    /// Something else sits where a directory belongs: move it to quarantine, then create it.
    ReplaceWithDir,
    /// Copy the file to quarantine, then truncate it to `keep_bytes` (a torn journal tail).
    Truncate { keep_bytes: u64 },
    /// Move the file to quarantine (a corrupt snapshot, a leftover temp file, a stale lock).
    MoveAside,
    /// Copy the file to quarantine (or, with `bad_lines`, only those lines, each with its
    /// line number), then replace it atomically with `content` — provided it still has
    /// `expect_bytes` bytes (a writer appending meanwhile makes the runtime retry next round).
    Rewrite {
        content: String,
        expect_bytes: u64,
        bad_lines: Option<String>,
    },
    /// Write `content` to a missing file (a declared JSON artifact's default document).
    CreateFile { content: String },
    /// Make the file writable by its owner again (`chmod u+w`).
    MakeWritable,
    /// Take the write permission of its group and every other user away (`chmod go-w`).
    MakeUnwritableByOthers,
    /// Restart the named service (stale heartbeat).
    Restart { service: String },
    /// Kill the process group led by `pid` if it still has `start_time` (an orphan).
    Kill { pid: i32, start_time: u64 },
    /// Nothing to apply (dangerous and skipped findings).
    Report,
}

/// One finding and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    /// The component (`data_dirs`, `journal`, `artifact:<service>`, …).
    pub component: String,
    /// The file, directory, process or service concerned.
    pub target: String,
    pub class: Class,
    pub failure: FailureClass,
    pub op: Op,
    /// Why, with the observed value and the limit.
    pub reason: String,
}

/// Every action found by one inspection, in component order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub actions: Vec<Action>,
    /// Why the engine will refuse to start, as the recovery decision says (a newer format in
    /// every mode, dangerous damage in live mode). The supervisor's gate is
    /// [`engine_may_start`]; in paper mode it starts the engine, which refuses and reports
    /// FAILED_API_SCHEMA.
    #[serde(default)]
    pub engine_refusal: Option<String>,
}

impl Plan {
    pub fn heals(&self) -> impl Iterator<Item = &Action> {
        self.of(Class::Heal)
    }
    pub fn dangerous(&self) -> impl Iterator<Item = &Action> {
        self.of(Class::Dangerous)
    }
    pub fn of(&self, class: Class) -> impl Iterator<Item = &Action> {
        self.actions.iter().filter(move |a| a.class == class)
    }
    pub fn is_clean(&self) -> bool {
        self.actions.is_empty()
    }
    pub fn has_dangerous(&self) -> bool {
        self.dangerous().next().is_some()
    }

    fn push(
        &mut self,
        component: &str,
        target: impl Into<String>,
        class: Class,
        failure: FailureClass,
        op: Op,
        reason: impl Into<String>,
    ) {
        self.actions.push(Action {
            component: component.to_owned(),
            target: target.into(),
            class,
            failure,
            op,
            reason: reason.into(),
        });
    }
}

/// Whether a live start may go ahead after this plan (SPEC §4 mode gating): paper always
/// starts the engine; live only with nothing dangerous.
pub fn engine_may_start(mode: Mode, plan: &Plan) -> Result<(), String> {
    match mode {
        Mode::Paper => Ok(()),
        Mode::Live => match plan.dangerous().next() {
            None => Ok(()),
            Some(a) => Err(format!(
                "live start refused: the self-heal found {} dangerous problem(s); first: {} {}: {}",
                plan.dangerous().count(),
                a.component,
                a.target,
                a.reason
            )),
        },
    }
}

// ----- observations --------------------------------------------------------------------------

/// What sits at a path that should be a directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PathState {
    Missing,
    Dir,
    /// A file (or anything else) where a directory belongs.
    NotDir,
}

/// One position row of the engine's state as stored (the latest valid snapshot).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PositionRow {
    /// The key it is stored under.
    pub key: String,
    pub symbol: String,
    pub qty: rust_decimal::Decimal,
    pub avg_entry_price: rust_decimal::Decimal,
}

/// A lock file: who it says owns it and what the process table says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockObs {
    pub path: String,
    /// The pid written in it (`None`: missing, or no pid could be read).
    pub pid: Option<i32>,
    /// The owner's start time written in it, if any (clock ticks since boot, `/proc` stat 22).
    pub recorded_start: Option<u64>,
    /// Whether the file exists.
    pub exists: bool,
    /// Whether `pid` is alive, and its start time then.
    pub alive: bool,
    pub actual_start: Option<u64>,
    pub age_ms: i64,
    /// Held by `flock` right now (a held lock is never stale).
    pub held: bool,
}

/// A heartbeat file and the service that owns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatObs {
    pub path: String,
    pub service: String,
    /// Age of the file (`None`: missing).
    pub age_ms: Option<i64>,
    pub max_age_ms: i64,
    /// Whether the service is running now (nothing to restart otherwise).
    pub running: bool,
}

/// A process a previous supervisor of this data directory left behind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrphanObs {
    pub pid: i32,
    pub start_time: u64,
    pub service: String,
    pub command: String,
}

/// One of Ballast's own files or directories that its owner cannot write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadOnlyObs {
    pub path: String,
    /// Owned by the user Ballast runs as (only then can it fix the mode).
    pub ours: bool,
}

/// A declared artifact of a user service (`[[artifacts]]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactObs {
    pub service: String,
    pub path: String,
    pub state: ArtifactState,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ArtifactState {
    Dir {
        state: PathState,
    },
    Json {
        /// The file's text (`None`: missing).
        text: Option<String>,
        /// Why the file was not read (not a regular file, larger than
        /// [`MAX_ARTIFACT_BYTES`]), in words.
        #[serde(default)]
        unreadable: Option<String>,
        default: serde_json::Value,
        required: Vec<String>,
    },
    Jsonl {
        text: Option<String>,
        #[serde(default)]
        unreadable: Option<String>,
    },
    Lock(LockObs),
    Heartbeat(HeartbeatObs),
}

/// Everything one inspection looks at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    pub mode: Mode,
    /// The data directory's own directories.
    pub dirs: Vec<(String, PathState)>,
    /// The engine journal, its snapshots and heartbeat, as read for the one recovery decision
    /// ([`crate::recovery::decide`]), also while the engine runs (read in an order that
    /// keeps a running engine's files consistent; its heals wait for its next start);
    /// `None`: not read.
    pub recovery: Option<RecoveryFacts>,
    /// Positions of the latest valid snapshot (`None`: none to read).
    pub positions: Option<Vec<PositionRow>>,
    pub locks: Vec<LockObs>,
    pub heartbeats: Vec<HeartbeatObs>,
    pub orphans: Vec<OrphanObs>,
    pub read_only: Vec<ReadOnlyObs>,
    /// `state/health.json` exists but does not parse (it is rewritten every cycle).
    pub health_snapshot_corrupt: Option<String>,
    /// The logs directory cannot be written (with the error).
    pub logs_unwritable: Option<String>,
    pub artifacts: Vec<ArtifactObs>,
    /// Ballast's own paths that are symbolic links.
    #[serde(default)]
    pub symlinks: Vec<SymlinkObs>,
    /// Ballast's own regular files (owned by its user) that every other user may write, with
    /// their permission bits (left so by a umask of 000 before every file was created 0600).
    #[serde(default)]
    pub writable_by_others: Vec<(String, u32)>,
    /// The data directory (as shown) and its permission bits, when group or others may write
    /// it.
    #[serde(default)]
    pub open_to_others: Option<(String, u32)>,
}

impl Observation {
    pub fn new(mode: Mode) -> Self {
        Observation {
            mode,
            dirs: Vec::new(),
            recovery: None,
            positions: None,
            locks: Vec::new(),
            heartbeats: Vec::new(),
            orphans: Vec::new(),
            read_only: Vec::new(),
            health_snapshot_corrupt: None,
            logs_unwritable: None,
            artifacts: Vec::new(),
            symlinks: Vec::new(),
            open_to_others: None,
            writable_by_others: Vec::new(),
        }
    }
}

// ----- the healers ---------------------------------------------------------------------------

/// Run every healer over `obs`.
pub fn inspect(obs: &Observation) -> Plan {
    let mut plan = Plan::default();
    for (path, state) in &obs.dirs {
        dir(&mut plan, "data_dirs", path, *state);
    }
    if let Some(facts) = &obs.recovery {
        recovery(&mut plan, &decide(obs.mode, facts), facts.engine_running);
    }
    if let Some(rows) = &obs.positions {
        positions(&mut plan, rows);
    }
    for l in &obs.locks {
        lock(&mut plan, "locks", l);
    }
    for h in &obs.heartbeats {
        heartbeat(&mut plan, "heartbeat", h);
    }
    for o in &obs.orphans {
        orphan(&mut plan, obs.mode, o);
    }
    for r in &obs.read_only {
        read_only(&mut plan, r);
    }
    for (path, mode) in &obs.writable_by_others {
        plan.push(
            "permissions",
            path.clone(),
            Class::Heal,
            FailureClass::Transient,
            Op::MakeUnwritableByOthers,
            format!(
                "writable by {} (mode {:04o}): made {:04o}",
                match (mode & 0o020 != 0, mode & 0o002 != 0) {
                    (true, true) => "its group and every other user",
                    (true, false) => "its group",
                    _ => "every other user",
                },
                mode & 0o7777,
                mode & 0o7755
            ),
        );
    }
    if let Some((dir, mode)) = &obs.open_to_others {
        plan.push(
            "permissions",
            ".",
            Class::Skip,
            FailureClass::PersistentConfig,
            Op::Report,
            open_to_others(dir, *mode),
        );
    }
    if let Some(problem) = &obs.health_snapshot_corrupt {
        plan.push(
            "health_snapshot",
            crate::layout::rel::HEALTH,
            Class::Heal,
            FailureClass::Transient,
            Op::MoveAside,
            format!("does not parse ({problem}); it is rewritten by the next health cycle"),
        );
    }
    if let Some(error) = &obs.logs_unwritable {
        plan.push(
            "logs",
            "logs",
            Class::Dangerous,
            FailureClass::PersistentConfig,
            Op::Report,
            format!(
                "the logs directory cannot be written ({error}): nothing a service prints is kept; fix its ownership or free disk space"
            ),
        );
    }
    for a in &obs.artifacts {
        artifact(&mut plan, a);
    }
    links::links(&mut plan, &obs.symlinks);
    plan
}

fn dir(plan: &mut Plan, component: &str, path: &str, state: PathState) {
    match state {
        PathState::Dir => {}
        PathState::Missing => plan.push(
            component,
            path,
            Class::Heal,
            FailureClass::Transient,
            Op::CreateDir,
            "directory missing: created",
        ),
        PathState::NotDir => plan.push(
            component,
            path,
            Class::Heal,
            FailureClass::Transient,
            Op::ReplaceWithDir,
            "not a directory: moved to quarantine and the directory created",
        ),
    }
}

/// The journal and snapshot findings of the recovery decision, as heal actions: a `heal`
/// finding's one step is applied here exactly as the engine's start would; a dangerous one is
/// reported (a paper engine's start salvages it, `ballast heal` never does). While the engine
/// runs it owns these files: a heal is held back (skipped, done at its next start).
fn recovery(plan: &mut Plan, d: &Decision, engine_running: bool) {
    for f in &d.findings {
        if engine_running && f.class == Class::Heal {
            plan.push(
                &f.component,
                f.target.clone(),
                Class::Skip,
                f.failure,
                Op::Report,
                format!(
                    "{}; not now: the engine is running and owns this file (its next start does it, or `ballast heal` once it is stopped)",
                    f.reason
                ),
            );
            continue;
        }
        let op = match (f.class, f.steps.as_slice()) {
            (Class::Heal, [Step::Truncate { keep_bytes, .. }]) => Op::Truncate {
                keep_bytes: *keep_bytes,
            },
            (Class::Heal, [Step::MoveAside { .. }]) => Op::MoveAside,
            _ => Op::Report,
        };
        plan.push(
            &f.component,
            f.target.clone(),
            f.class,
            f.failure,
            op,
            f.reason.clone(),
        );
    }
    if let Some(why) = &d.refusal {
        plan.engine_refusal = Some(why.clone());
    }
}

/// Engine state: duplicate positions for one symbol and side, entry price ≤ 0 or size ≤ 0 are
/// never fixed by guessing (SPEC principle 2).
pub fn positions(plan: &mut Plan, rows: &[PositionRow]) {
    let mut danger = |target: &str, reason: String| {
        plan.push(
            "engine_state",
            target,
            Class::Dangerous,
            FailureClass::LogicRisk,
            Op::Report,
            reason,
        )
    };
    let mut seen: Vec<(&str, bool)> = Vec::new();
    for r in rows {
        let long = r.qty.is_sign_positive();
        if r.qty.is_zero() && !r.avg_entry_price.is_zero() {
            danger(
                &r.symbol,
                format!(
                    "position with size 0 and entry price {}: invalid",
                    r.avg_entry_price
                ),
            );
        }
        if !r.qty.is_zero() && r.avg_entry_price <= rust_decimal::Decimal::ZERO {
            danger(
                &r.symbol,
                format!(
                    "position of {} with entry price {} <= 0: invalid",
                    r.qty, r.avg_entry_price
                ),
            );
        }
        if r.key != r.symbol {
            danger(
                &r.key,
                format!(
                    "position stored under {:?} is for {:?}: state is inconsistent",
                    r.key, r.symbol
                ),
            );
        }
        if r.qty.is_zero() {
            continue;
        }
        if seen.contains(&(r.symbol.as_str(), long)) {
            danger(
                &r.symbol,
                format!(
                    "duplicate {} position for {}: which one is true is for the broker and the operator to say",
                    if long { "long" } else { "short" },
                    r.symbol
                ),
            );
        } else {
            seen.push((r.symbol.as_str(), long));
        }
    }
}

/// A lock is stale when its owner is dead — or alive but another process (a different start
/// time: the pid was reused) — and it is older than [`STALE_LOCK_MS`].
pub fn lock(plan: &mut Plan, component: &str, l: &LockObs) {
    if !l.exists || l.held {
        return;
    }
    let Some(pid) = l.pid else {
        if l.age_ms > STALE_LOCK_MS {
            plan.push(
                component,
                l.path.clone(),
                Class::Skip,
                FailureClass::PersistentConfig,
                Op::Report,
                "no pid can be read from it, so its owner cannot be checked: left alone (remove it by hand if nothing runs)",
            );
        }
        return;
    };
    let reused =
        l.alive && matches!((l.recorded_start, l.actual_start), (Some(a), Some(b)) if a != b);
    if (l.alive && !reused) || l.age_ms <= STALE_LOCK_MS {
        return;
    }
    let why = if reused {
        format!("pid {pid} is alive but started at another time (pid reused)")
    } else {
        format!("owner pid {pid} is dead")
    };
    plan.push(
        component,
        l.path.clone(),
        Class::Heal,
        FailureClass::Transient,
        Op::MoveAside,
        format!(
            "stale lock: {why}, {} s old (> {} s): moved to quarantine",
            l.age_ms / 1000,
            STALE_LOCK_MS / 1000
        ),
    );
}

pub fn heartbeat(plan: &mut Plan, component: &str, h: &HeartbeatObs) {
    if h.max_age_ms <= 0 || !h.running {
        return;
    }
    let stale = match h.age_ms {
        None => "missing".to_owned(),
        Some(age) if age > h.max_age_ms => {
            format!("{} old", crate::time::Human(age.max(0).unsigned_abs()))
        }
        Some(_) => return,
    };
    plan.push(
        component,
        h.path.clone(),
        Class::Heal,
        FailureClass::Transient,
        Op::Restart {
            service: h.service.clone(),
        },
        format!(
            "heartbeat {stale} (max {}): service {} restarted",
            crate::time::Human(h.max_age_ms.unsigned_abs()),
            h.service
        ),
    );
}

fn orphan(plan: &mut Plan, mode: Mode, o: &OrphanObs) {
    let target = format!("pid {} ({} {})", o.pid, o.service, o.command);
    match mode {
        Mode::Paper => plan.push(
            "orphans",
            target,
            Class::Heal,
            FailureClass::Transient,
            Op::Kill {
                pid: o.pid,
                start_time: o.start_time,
            },
            "left by a previous supervisor of this data directory: its process group is killed (paper mode)",
        ),
        Mode::Live => plan.push(
            "orphans",
            target,
            Class::Skip,
            FailureClass::Transient,
            Op::Report,
            "left by a previous supervisor of this data directory: live mode never kills it — it may hold orders; stop it yourself",
        ),
    }
}

/// What a data directory writable by group or others (`mode`, its permission bits) means, and
/// the fix — for the heal report and the warning at `ballast run`'s start.
pub fn open_to_others(dir: &str, mode: u32) -> String {
    let who = match (mode & 0o020 != 0, mode & 0o002 != 0) {
        (true, true) => "its group and every other user",
        (true, false) => "its group",
        _ => "every other user",
    };
    format!(
        "the data directory {dir} is writable by {who} (mode {:04o}): they can change the journal, the safety policy and the kill switch — nothing is changed; fix it with `chmod 700 {dir}`",
        mode & 0o7777
    )
}

fn read_only(plan: &mut Plan, r: &ReadOnlyObs) {
    if r.ours {
        plan.push(
            "permissions",
            r.path.clone(),
            Class::Heal,
            FailureClass::Transient,
            Op::MakeWritable,
            "not writable by its owner: made writable again",
        );
    } else {
        plan.push(
            "permissions",
            r.path.clone(),
            Class::Dangerous,
            FailureClass::PersistentConfig,
            Op::Report,
            "not writable, and owned by another user: change its owner to the user Ballast runs as",
        );
    }
}

fn artifact(plan: &mut Plan, a: &ArtifactObs) {
    let component = format!("artifact:{}", a.service);
    let c = component.as_str();
    match &a.state {
        ArtifactState::Dir { state } => dir(plan, c, &a.path, *state),
        ArtifactState::Lock(l) => lock(plan, c, l),
        ArtifactState::Heartbeat(h) => heartbeat(plan, c, h),
        ArtifactState::Json {
            text,
            unreadable,
            default,
            required,
        } => json_artifact(
            plan,
            c,
            &a.path,
            text.as_deref(),
            unreadable.as_deref(),
            default,
            required,
        ),
        ArtifactState::Jsonl { text, unreadable } => {
            if let Some(why) = unreadable {
                not_inspected(plan, c, &a.path, why);
                return;
            }
            let Some(text) = text else { return };
            let split = split_jsonl(text);
            if split.bad.is_empty() {
                return;
            }
            let lines: Vec<String> = split.bad.iter().map(|(n, _)| n.to_string()).collect();
            plan.push(
                c,
                a.path.clone(),
                Class::Heal,
                FailureClass::Transient,
                Op::Rewrite {
                    content: split.good,
                    expect_bytes: text.len() as u64,
                    bad_lines: Some(split.quarantined),
                },
                format!(
                    "{} corrupt line(s) (line {}) moved to quarantine; {} valid line(s) kept in order",
                    split.bad.len(),
                    lines.join(", "),
                    split.kept
                ),
            );
        }
    }
}

fn json_artifact(
    plan: &mut Plan,
    c: &str,
    path: &str,
    text: Option<&str>,
    unreadable: Option<&str>,
    default: &serde_json::Value,
    required: &[String],
) {
    if let Some(why) = unreadable {
        not_inspected(plan, c, path, why);
        return;
    }
    let Some(text) = text else {
        plan.push(
            c,
            path,
            Class::Heal,
            FailureClass::Transient,
            Op::CreateFile {
                content: pretty(default),
            },
            "missing: created from its default document",
        );
        return;
    };
    let s = salvage_json(text, default, required);
    if s.unchanged {
        return;
    }
    let mut why = Vec::new();
    if let Some(e) = &s.parse_error {
        why.push(format!(
            "malformed ({e}); salvaged {} key(s) that parse",
            s.salvaged.len()
        ));
    }
    if !s.filled.is_empty() {
        why.push(format!(
            "missing required key(s) {} filled from the default",
            s.filled.join(", ")
        ));
    }
    plan.push(
        c,
        path,
        Class::Heal,
        FailureClass::Transient,
        Op::Rewrite {
            content: pretty(&s.value),
            expect_bytes: text.len() as u64,
            bad_lines: None,
        },
        format!("{}; the original copied to quarantine", why.join("; ")),
    );
}

/// A declared file that was not read (`why`: not a regular file, over
/// [`MAX_ARTIFACT_BYTES`]) is reported, never changed.
fn not_inspected(plan: &mut Plan, component: &str, path: &str, why: &str) {
    plan.push(
        component,
        path,
        Class::Skip,
        FailureClass::Transient,
        Op::Report,
        format!("not inspected and left as it is: {why}"),
    );
}

fn pretty(v: &serde_json::Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_else(|_| "{}".into());
    s.push('\n');
    s
}
