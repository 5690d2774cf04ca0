//! The healer's runtime (SPEC §4): observe every component — files, the journal, snapshots,
//! the process table — into a [`heal::Observation`], let the pure core decide the
//! [`heal::Plan`], and carry out its `heal` actions. Whatever an action removes is copied to
//! quarantine first; each applied action is an ops-journal event with before and after.
//!
//! Used by the startup self-heal and the healing operator (both in the supervisor) and by
//! `ballast heal` when no supervisor runs.

use std::collections::BTreeSet;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use ballast_core::Clock;
use ballast_core::config::{ArtifactKind, Config, Mode};
use ballast_core::heal::{
    self, Action, ArtifactObs, ArtifactState, Class, HeartbeatObs, LockObs, MAX_ARTIFACT_BYTES,
    Observation, OrphanObs, PathState, Plan, PositionRow, ReadOnlyObs,
};
use ballast_core::recovery::RecoveryFacts;
use ballast_store::bounded;
use ballast_store::layout::rel;
use ballast_store::recovery::{AssessSpec, assess};
use ballast_store::snapshot::Snapshots;
use ballast_store::{Layout, RealStorage};
use rustix::fs::{FlockOperation, flock};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::core::OpsEvent;

pub use crate::limits::PERMISSION_ENTRIES_COUNT as MAX_PERMISSION_ENTRIES;

/// Name of the engine's snapshots in `state/`.
pub const ENGINE_SNAPSHOT: &str = "engine";

/// Every snapshot the engine writes: its state, the pipeline report (decision tracker,
/// pipeline monitor, shadow engine) and the universe.
pub const SNAPSHOT_NAMES: [&str; 3] = [ENGINE_SNAPSHOT, "pipeline", "universe"];

/// The result of one applied action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    pub action: Action,
    /// `None` when it worked; otherwise why not (it is retried by the next sweep).
    pub error: Option<String>,
    pub before: String,
    pub after: String,
    pub quarantined: Option<String>,
}

/// What one heal run found and did (`ballast heal`'s answer on the control socket).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub mode: Mode,
    pub dry_run: bool,
    pub plan: Plan,
    pub applied: Vec<Applied>,
    /// Whether the engine may start after this (SPEC §4 mode gating) and, if not, why.
    pub engine_may_start: bool,
    pub refusal: Option<String>,
}

/// One data directory's healer.
pub struct Healer<'a> {
    pub data_dir: &'a Path,
    pub config: &'a Config,
    pub clock: &'a dyn Clock,
    /// What the last sweep saw of the engine's journal and snapshots (`None`: always read).
    pub cache: Option<&'a std::cell::RefCell<EngineFiles>>,
}

/// The engine's journal and snapshots as last observed, keyed by a fingerprint of their files
/// (names, sizes, modification times): a sweep reads them again only when one changed — a
/// large journal takes a while to scan, and sweeps run on the supervisor's loop. While the
/// engine runs and they were last found clean, only a change that is not the engine's
/// ordinary writing reads them again: a new or removed file (a snapshot, a segment), a
/// segment other than the last changing, another engine holding the lock. While anything was
/// found there, every change reads them again, so a finding clears as soon as it is gone.
#[derive(Debug, Default)]
pub struct EngineFiles {
    key: Vec<FileKey>,
    seen: Option<(RecoveryFacts, Option<Vec<PositionRow>>)>,
    /// The last reading found nothing and an engine was running.
    quiet: bool,
}

impl EngineFiles {
    /// Read them again at the next observation (an operator's `ballast heal`).
    pub fn forget(&mut self) {
        self.seen = None;
    }
}

/// `(where, name, size, mtime s, mtime ns)`; where: 0 journal, 1 snapshots, 2 heartbeat, 3
/// the engine lock's holder.
type FileKey = (u8, String, u64, i64, i64);

fn fingerprint(layout: &Layout) -> Vec<FileKey> {
    let mut key = Vec::new();
    for (at, dir) in [layout.engine_journal(), layout.state(), layout.run()]
        .into_iter()
        .enumerate()
    {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if at == 1 && !name.contains(".snapshot.") {
                continue;
            }
            if at == 2 && name != rel::name(rel::HEARTBEAT) {
                continue;
            }
            if let Ok(m) = e.metadata() {
                key.push((at as u8, name, m.len(), m.mtime(), m.mtime_nsec()));
            }
        }
    }
    if let Some(h) = ballast_store::files::lock::engine_holder(layout) {
        let who = format!("{:?} {}", h.pid, h.started.unwrap_or_default());
        key.push((3, who, 0, 0, 0));
    }
    key.sort();
    key
}

/// What of a fingerprint a running engine does not change by writing as usual: file names,
/// and the sizes and times of every journal segment but the last; not the heartbeat.
fn coarse(key: &[FileKey]) -> Vec<FileKey> {
    let last = key.iter().filter(|k| k.0 == 0).map(|k| &k.1).max();
    key.iter()
        .filter(|k| k.0 != 2)
        .map(|k| match k.0 {
            0 if Some(&k.1) != last => k.clone(),
            _ => (k.0, k.1.clone(), 0, 0, 0),
        })
        .collect()
}

impl Healer<'_> {
    fn layout(&self) -> Layout {
        Layout::new(self.data_dir)
    }

    /// Where a path of the plan is: relative ones are inside the data directory.
    fn resolve(&self, target: &str) -> PathBuf {
        let p = Path::new(target);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.data_dir.join(p)
        }
    }

    fn rel(&self, path: &Path) -> String {
        self.layout().display(path)
    }

    /// Observe every component. `engine_running`: an engine holds its lock (its journal and
    /// snapshots are read as a running engine's; their heals wait for its next start). `running(service)`: whether a service
    /// runs now (a stale heartbeat restarts only a running service).
    pub fn observe(&self, engine_running: bool, running: &dyn Fn(&str) -> bool) -> Observation {
        let layout = self.layout();
        let mut obs = Observation::new(self.config.general.mode);
        for d in layout.dirs() {
            obs.dirs.push((self.rel(&d), path_state(&d)));
        }
        obs.symlinks = layout.symlink_obs();
        // Also while the engine runs: the reads are ordered for a running engine's files, and
        // a finding stands only while it is found.
        let key = self.cache.map(|_| fingerprint(&layout));
        let cached = self.cache.and_then(|c| {
            let c = c.borrow();
            let key = key.as_ref()?;
            let same = if engine_running && c.quiet {
                coarse(&c.key) == coarse(key)
            } else {
                c.key == *key
            };
            same.then(|| c.seen.clone()).flatten()
        });
        match cached {
            Some((facts, positions)) => {
                obs.recovery = Some(facts);
                obs.positions = positions;
            }
            None => {
                self.recovery(&layout, &mut obs);
                if let (Some(c), Some(key)) = (self.cache, key) {
                    let mut c = c.borrow_mut();
                    c.key = key;
                    c.seen = obs.recovery.clone().map(|f| (f, obs.positions.clone()));
                    c.quiet = engine_running
                        && obs.recovery.as_ref().is_some_and(|f| {
                            f.engine_running
                                && ballast_core::recovery::decide(obs.mode, f)
                                    .findings
                                    .is_empty()
                        });
                }
            }
        }
        obs.locks = self.locks(&layout.run());
        obs.orphans = orphans(self.data_dir);
        (obs.read_only, obs.writable_by_others) = self.read_only();
        obs.open_to_others = ballast_store::storage::open_to_others(self.data_dir)
            .map(|mode| (self.data_dir.display().to_string(), mode));
        match ballast_store::files::health::check(&RealStorage, &layout) {
            Ok(()) => {}
            Err(ballast_store::files::FileError::Invalid { detail, .. }) => {
                obs.health_snapshot_corrupt = Some(detail);
            }
            Err(ballast_store::files::FileError::Read(
                e @ bounded::ReadError::NotRegular { .. },
            )) => {
                obs.health_snapshot_corrupt = Some(e.to_string());
            }
            Err(_) => {}
        }
        let logs = layout.logs();
        if logs.is_dir() {
            if let Err(e) = rustix::fs::access(&logs, rustix::fs::Access::WRITE_OK) {
                obs.logs_unwritable = Some(std::io::Error::from(e).to_string());
            }
        }
        obs.artifacts = self.artifacts(running);
        obs
    }

    /// The journal, snapshots and heartbeat as the engine's start reads them (one decision,
    /// `ballast_core::recovery`), and the positions of the snapshot it would start from.
    fn recovery(&self, layout: &Layout, obs: &mut Observation) {
        let assessed = assess(&AssessSpec {
            storage: &RealStorage,
            layout,
            clock: self.clock,
            snapshot_name: ENGINE_SNAPSHOT,
            report_snapshots: &SNAPSHOT_NAMES[1..],
            check_record: ballast_core::engine::kinds::check_body,
            check_state: &ballast_core::engine::kinds::check_state,
            engine_may_run: true,
        });
        let facts = match assessed {
            Ok(a) => a.facts,
            Err(e) => RecoveryFacts {
                journal: Err(format!("cannot read the snapshots: {e}")),
                snapshots: Vec::new(),
                heartbeat_seq: None,
                engine_running: false,
            },
        };
        let decision = ballast_core::recovery::decide(obs.mode, &facts);
        if let Some((seq, _)) = decision.snapshot {
            let snaps = Snapshots {
                storage: &RealStorage,
                layout,
                clock: self.clock,
                name: ENGINE_SNAPSHOT,
                retain: 1,
            };
            if let Ok(state) = snaps.read_state::<ballast_core::engine::EngineState>(seq) {
                obs.positions = Some(position_rows(&state));
            }
        }
        obs.recovery = Some(facts);
    }

    fn locks(&self, run: &Path) -> Vec<LockObs> {
        let Ok(entries) = std::fs::read_dir(run) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for e in entries.flatten().take(1_000) {
            let name = e.file_name().to_string_lossy().into_owned();
            // engine.lock and supervisor.lock are flocks: the kernel releases them with their
            // owner, they are never stale.
            if name == rel::name(rel::ENGINE_LOCK)
                || name == rel::name(rel::SUPERVISOR_LOCK)
                || !(name.ends_with(".lock") || name.ends_with(".pid"))
            {
                continue;
            }
            out.push(self.lock_obs(&e.path(), self.rel(&e.path())));
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        out
    }

    fn lock_obs(&self, path: &Path, shown: String) -> LockObs {
        let mut l = LockObs {
            path: shown,
            pid: None,
            recorded_start: None,
            exists: false,
            alive: false,
            actual_start: None,
            age_ms: 0,
            held: false,
        };
        // Never blocks on a FIFO; a lock that is not a regular file is not a lock.
        let Ok(mut f) = bounded::open_regular(path) else {
            return l;
        };
        l.exists = true;
        l.age_ms = self.age_ms(path).unwrap_or(0);
        let mut text = String::new();
        let _ = (&mut f).take(4096).read_to_string(&mut text);
        (l.pid, l.recorded_start) = parse_lock(&text);
        match flock(&f, FlockOperation::NonBlockingLockShared) {
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => l.held = true,
            Ok(()) => {
                let _ = flock(&f, FlockOperation::Unlock);
            }
            Err(_) => {}
        }
        if let Some(pid) = l.pid {
            l.actual_start = start_time(pid);
            l.alive = l.actual_start.is_some();
        }
        l
    }

    fn age_ms(&self, path: &Path) -> Option<i64> {
        let m = std::fs::metadata(path).ok()?;
        let mtime = m.mtime() * 1000 + m.mtime_nsec() / 1_000_000;
        Some(self.clock.now().unix_ms().saturating_sub(mtime).max(0))
    }

    /// Ballast's own files its owner cannot write, and its own regular files every other user
    /// can (bounded walk of the data directory; `inbox/` is the bots', not looked at for that).
    fn read_only(&self) -> (Vec<ReadOnlyObs>, Vec<(String, u32)>) {
        let me = rustix::process::geteuid().as_raw();
        let mut out = Vec::new();
        let mut open = Vec::new();
        let mut stack = vec![self.data_dir.to_path_buf()];
        let mut seen = 0usize;
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                seen += 1;
                if seen > MAX_PERMISSION_ENTRIES {
                    return (out, open);
                }
                let Ok(m) = e.path().symlink_metadata() else {
                    continue;
                };
                if m.file_type().is_symlink() || m.file_type().is_socket() {
                    continue;
                }
                // Its group or every other user may write it — a file or a directory of
                // Ballast's (they could change the journal, the policy, the kill switch); the
                // inbox is the bots'.
                if (m.is_file() || m.is_dir())
                    && m.uid() == me
                    && m.permissions().mode() & 0o022 != 0
                    && !e.path().starts_with(self.layout().inbox())
                {
                    open.push((self.rel(&e.path()), m.permissions().mode() & 0o7777));
                }
                if m.permissions().mode() & 0o200 == 0 {
                    out.push(ReadOnlyObs {
                        path: self.rel(&e.path()),
                        ours: m.uid() == me,
                    });
                }
                if m.is_dir() {
                    stack.push(e.path());
                }
            }
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        open.sort();
        (out, open)
    }

    /// Where a declared artifact is: [`ServiceConfig::declared_path`] (under its service's
    /// resolved working directory), made absolute so that inspection and action agree.
    pub fn artifact_path(&self, service: &str, path: &str) -> PathBuf {
        let p = match self.config.services.iter().find(|s| s.name == service) {
            Some(s) => s.declared_path(path),
            None => PathBuf::from(path),
        };
        std::path::absolute(&p).unwrap_or(p)
    }

    fn artifacts(&self, running: &dyn Fn(&str) -> bool) -> Vec<ArtifactObs> {
        let mut out = Vec::new();
        for a in &self.config.artifacts {
            let path = self.artifact_path(&a.service, &a.path);
            let shown = path.display().to_string();
            let state = match a.kind {
                ArtifactKind::Dir => ArtifactState::Dir {
                    state: path_state(&path),
                },
                ArtifactKind::Json => {
                    let (text, unreadable) = read_bounded(&path);
                    ArtifactState::Json {
                        text,
                        unreadable,
                        default: serde_json::from_str(&a.default).unwrap_or(json!({})),
                        required: a.required_keys.clone(),
                    }
                }
                ArtifactKind::Jsonl => {
                    let (text, unreadable) = read_bounded(&path);
                    ArtifactState::Jsonl { text, unreadable }
                }
                ArtifactKind::Lock => ArtifactState::Lock(self.lock_obs(&path, shown.clone())),
                // A cache is the user's disposable data: the healer neither checks nor
                // repairs it; only an approved (or auto_clear) `clear_cache` touches it.
                ArtifactKind::Cache => continue,
                ArtifactKind::Heartbeat => ArtifactState::Heartbeat(HeartbeatObs {
                    path: shown.clone(),
                    service: a.service.clone(),
                    age_ms: self.age_ms(&path),
                    max_age_ms: ballast_core::time::ms_from_secs(a.max_age_secs),
                    running: running(&a.service),
                }),
            };
            out.push(ArtifactObs {
                service: a.service.clone(),
                path: shown,
                state,
            });
        }
        out
    }

    /// Observe, plan and (unless `dry_run`) apply. `record(event)` journals each heal carried
    /// out or failed ([`OpsEvent::HealApplied`], in the order applied; the caller logs them);
    /// `restart(service)` asks for a restart; `engine_running` as for [`Self::observe`].
    pub fn run(
        &self,
        dry_run: bool,
        engine_running: bool,
        running: &dyn Fn(&str) -> bool,
        restart: &mut dyn FnMut(&str) -> Result<(), String>,
        record: &mut dyn FnMut(OpsEvent),
    ) -> Report {
        let obs = self.observe(engine_running, running);
        let plan = heal::inspect(&obs);
        let applied = if dry_run {
            Vec::new()
        } else {
            plan.heals()
                .map(|a| {
                    let done = self.apply(a, restart);
                    record(OpsEvent::HealApplied(done.clone()));
                    done
                })
                .collect()
        };
        let gate = heal::engine_may_start(self.config.general.mode, &plan);
        // What the engine's own recovery decision refuses (a newer format, also in paper
        // mode) means it will not start, whatever the gate lets through.
        let may_start = gate.is_ok() && plan.engine_refusal.is_none();
        Report {
            mode: self.config.general.mode,
            dry_run,
            plan,
            applied,
            engine_may_start: may_start,
            refusal: gate.err(),
        }
    }
}

/// Whether an engine holds `run/engine.lock` now (it owns the journal and snapshots then).
pub fn engine_lock_held(layout: &Layout) -> bool {
    // Never blocks on a FIFO put in its place.
    ballast_store::files::lock::engine_holder(layout).is_some()
}

fn path_state(path: &Path) -> PathState {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => PathState::Dir,
        Ok(_) => PathState::NotDir,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => PathState::Missing,
        // Unreadable in another way (a broken symlink is NotFound): leave it to the checks.
        Err(_) => PathState::NotDir,
    }
}

/// Start time of `pid` (field 22 of `/proc/<pid>/stat`, clock ticks since boot); `None` when
/// it does not exist (or is a zombie).
pub fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut f = stat.rsplit_once(')')?.1.split_whitespace();
    let state = f.next()?;
    if state == "Z" {
        return None;
    }
    // Fields after the state: ppid (4) … starttime (22) → index 22 - 4 = 18.
    f.nth(18)?.parse().ok()
}

/// The positions of an engine snapshot as stored, in the order of the keys they are stored
/// under.
pub fn position_rows(state: &ballast_core::engine::EngineState) -> Vec<PositionRow> {
    let mut rows: Vec<PositionRow> = state
        .portfolio
        .stored()
        .map(|(key, p)| PositionRow {
            key: key.to_string(),
            symbol: p.symbol.to_string(),
            qty: p.qty,
            avg_entry_price: p.avg_entry_price,
        })
        .collect();
    rows.sort_by(|a, b| a.key.cmp(&b.key));
    rows
}

/// Processes tagged with this data directory whose supervisor is gone, with start times.
fn orphans(data_dir: &Path) -> Vec<OrphanObs> {
    crate::find_orphans(data_dir)
        .into_iter()
        .filter_map(|(pid, service)| {
            let start_time = start_time(pid)?;
            let command = std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| {
                    c.split(|b| *b == 0)
                        .filter(|s| !s.is_empty())
                        .map(|s| String::from_utf8_lossy(s).into_owned())
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default();
            Some(OrphanObs {
                pid,
                start_time,
                service,
                command,
            })
        })
        .collect()
}

/// Remembers what was already reported, so a sweep every few seconds journals a dangerous or
/// skipped finding once, not every time (bounded; forgotten findings are reported again).
#[derive(Debug, Default)]
pub struct Reported {
    seen: BTreeSet<String>,
}

impl Reported {
    pub const MAX: usize = 4_096;

    /// The findings of `plan` not reported before; the rest are forgotten.
    pub fn new_findings<'p>(&mut self, plan: &'p Plan) -> Vec<&'p Action> {
        let mut now = BTreeSet::new();
        let mut fresh = Vec::new();
        for a in plan.actions.iter().filter(|a| a.class != Class::Heal) {
            let key = format!("{}|{}|{}", a.component, a.target, a.reason);
            if !self.seen.contains(&key) {
                fresh.push(a);
            }
            if now.len() < Self::MAX {
                now.insert(key);
            }
        }
        self.seen = now;
        fresh
    }
}

mod apply;
mod files;
use files::read_bounded;
pub use files::{parse_lock, write_atomic};

#[cfg(test)]
mod tests;
