//! Recovery: the newest usable snapshot plus a replay of the journal records after it.
//! Replaying the same journal always yields the same state.
//!
//! [`assess`] reads the journal, the snapshots and the engine's heartbeat without changing
//! anything and lets the pure core decide ([`ballast_core::recovery::decide`]): the engine's
//! start ([`recover`]), `ballast journal verify` and `ballast heal` all go through it, so what
//! the tools say is what the engine then does. [`recover`] carries out exactly the decided
//! steps — nothing is written before the whole picture is known.

use std::path::Path;
use std::sync::Arc;

use ballast_core::Clock;
use ballast_core::config::Mode;
use ballast_core::recovery::{
    self, Decision, JournalFacts, JournalProblem, Outcome, ProblemKind, RecoveryFacts, Step,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::journal::scan::{self, Problem, Scan, Verdict};
use crate::journal::{Journal, JournalError, JournalOptions, OpenPolicy, OpenReport};
use crate::layout::Layout;
use crate::quarantine::{Heal, Quarantine};
use crate::record::RecordRef;
use crate::snapshot::{SnapshotError, Snapshots};
use crate::storage::Storage;

#[derive(Debug, thiserror::Error)]
pub enum RecoverError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    #[error("{}. Run `ballast journal verify` for the details", decision.summary())]
    Refused { decision: Box<Decision> },
    #[error("cannot {op} {path}: {source}")]
    Step {
        op: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// A recovered state and how it was obtained.
#[derive(Debug)]
pub struct Recovered<S> {
    pub state: S,
    /// Seq covered by the snapshot used (0: none, full replay).
    pub snapshot_seq: u64,
    /// Last seq in the journal.
    pub last_seq: u64,
    /// Records replayed on top of the snapshot.
    pub replayed: u64,
    /// The decided steps as carried out, then any heal of the journal's own open.
    pub heals: Vec<Heal>,
    pub journal: OpenReport,
    /// What was decided (a `Salvage` outcome means DEGRADED and a CRITICAL alert).
    pub decision: Decision,
}

/// The check of a record body: `(type, body JSON)`.
pub type RecordCheck = fn(&str, &str) -> Result<(), String>;

/// Where and how to recover.
pub struct RecoverSpec<'a> {
    pub storage: Arc<dyn Storage>,
    pub layout: &'a Layout,
    pub clock: Arc<dyn Clock>,
    pub opts: JournalOptions,
    pub policy: OpenPolicy,
    /// The snapshot name (`engine`).
    pub snapshot_name: &'a str,
    pub snapshot_retain: usize,
    /// Snapshots written beside the state (reports: never loaded, but bound to the journal
    /// and salvaged with it).
    pub report_snapshots: &'a [&'a str],
    /// Whether a record's body parses as its type (the engine's replay refuses one that
    /// does not).
    pub check_record: RecordCheck,
}

/// What to assess.
pub struct AssessSpec<'a> {
    pub storage: &'a dyn Storage,
    pub layout: &'a Layout,
    pub clock: &'a dyn Clock,
    pub snapshot_name: &'a str,
    pub report_snapshots: &'a [&'a str],
    pub check_record: RecordCheck,
    /// Whether a snapshot's state parses in this build.
    pub check_state: &'a dyn Fn(&str) -> Result<(), String>,
    /// Whether an engine other than the caller may be writing these files (the tools, the
    /// healer): then whether one holds `run/engine.lock` is checked once they are read
    /// ([`RecoveryFacts::engine_running`]). `false` for the engine's own start.
    pub engine_may_run: bool,
}

/// The facts read, and the scan they came from (`None`: the journal could not be read).
#[derive(Debug, Clone, Serialize)]
pub struct Assessment {
    pub facts: RecoveryFacts,
    pub scan: Option<Scan>,
}

impl Assessment {
    pub fn decide(&self, mode: Mode) -> Decision {
        recovery::decide(mode, &self.facts)
    }
}

/// Read the journal, the snapshots and the heartbeat; change nothing.
pub fn assess(spec: &AssessSpec<'_>) -> Result<Assessment, SnapshotError> {
    assess_visiting(spec, &mut |_| Ok(()))
}

/// As [`assess`], calling `visit` for each record of the journal's valid prefix (one read
/// for `ballast journal dump` and its verdict).
///
/// The order of the reads makes a running engine's files consistent: the evidence that only
/// grows while the engine runs — the heartbeat's durable seq, then the snapshots — is read
/// first, the journal last, so the journal read is never shorter than what that evidence
/// says was acknowledged; only then is the engine's lock looked at (a partial last record
/// is the engine's append in progress only while it holds the lock).
pub fn assess_visiting(
    spec: &AssessSpec<'_>,
    visit: &mut scan::Visitor<'_>,
) -> Result<Assessment, SnapshotError> {
    let heartbeat_seq = heartbeat_seq(spec.storage, spec.layout);
    let snaps = |name| Snapshots {
        storage: spec.storage,
        layout: spec.layout,
        clock: spec.clock,
        name,
        retain: usize::MAX,
    };
    let mut snapshots = snaps(spec.snapshot_name).facts(Some(spec.check_state))?;
    for name in spec.report_snapshots {
        snapshots.extend(snaps(name).facts(None)?);
    }
    let wanted: Vec<u64> = snapshots.iter().filter_map(|s| s.seq).collect();
    let mut crc_at = Vec::new();
    let dir = spec.layout.engine_journal();
    let check = spec.check_record;
    let scanned = scan::scan_checked(
        spec.storage,
        &dir,
        &|r: &RecordRef<'_>| check(&r.kind, r.body.get()),
        &mut |r: &RecordRef<'_>| {
            if wanted.contains(&r.seq) {
                crc_at.push((r.seq, r.crc()));
            }
            visit(r)
        },
    );
    let engine_running =
        spec.engine_may_run && crate::files::lock::engine_holder(spec.layout).is_some();
    let (journal, scan) = match scanned {
        Ok(s) => (
            Ok(journal_facts(spec.storage, spec.layout, &dir, &s, crc_at)),
            Some(s),
        ),
        Err(e) => (Err(e.to_string()), None),
    };
    Ok(Assessment {
        facts: RecoveryFacts {
            journal,
            snapshots,
            heartbeat_seq,
            engine_running,
        },
        scan,
    })
}

fn journal_facts(
    storage: &dyn Storage,
    layout: &Layout,
    dir: &Path,
    s: &Scan,
    crc_at: Vec<(u64, u32)>,
) -> JournalFacts {
    // Every segment in seq order (a scan stops reading at the first problem).
    let names = match scan::list_segments(storage, dir) {
        Ok((segments, _)) => segments.into_iter().map(|(n, _)| n).collect(),
        Err(_) => s.segments.iter().map(|x| x.name.clone()).collect(),
    };
    let problem = match &s.verdict {
        Verdict::Clean => None,
        Verdict::TornTail(t) => Some(JournalProblem {
            segment: t.segment.clone(),
            offset: t.offset,
            kind: ProblemKind::Corrupt {
                reason: t.reason.clone(),
            },
            tail_shaped: true,
            bytes: t.bytes,
            line: t.line,
            empty_after: t.empty_segments_after.clone(),
            at: format!(
                "{} line {} (byte {}): {}",
                t.segment, t.line, t.offset, t.reason
            ),
        }),
        Verdict::Dangerous(d) => Some(JournalProblem {
            segment: d.segment.clone(),
            offset: d.offset,
            kind: match &d.problem {
                Problem::Corrupt { reason } => ProblemKind::Corrupt {
                    reason: reason.clone(),
                },
                Problem::SeqGap { expected, found } => ProblemKind::SeqGap {
                    expected: *expected,
                    found: *found,
                },
                Problem::NewerSchema { found, supported } => ProblemKind::Newer {
                    found: *found,
                    supported: *supported,
                },
                Problem::BadBody { reason } => ProblemKind::BadBody {
                    reason: reason.clone(),
                },
            },
            tail_shaped: false,
            bytes: s
                .segments
                .iter()
                .find(|x| x.name == d.segment)
                .map_or(0, |x| x.bytes.saturating_sub(d.offset)),
            line: d.line,
            empty_after: Vec::new(),
            at: d.to_string(),
        }),
    };
    JournalFacts {
        dir: layout.display(dir),
        segments: names,
        last_seq: s.last_seq,
        problem,
        crc_at,
        other_files: s.other_files.clone(),
    }
}

/// The last durable seq the engine's heartbeat reported, if it says one (read alone:
/// [`crate::files::heartbeat::durable_seq`]).
fn heartbeat_seq(storage: &dyn Storage, layout: &Layout) -> Option<u64> {
    crate::files::heartbeat::durable_seq(storage, layout)
}

/// Carry out decided steps: whatever is cut or moved is copied to quarantine first.
pub fn apply_steps(
    storage: &dyn Storage,
    layout: &Layout,
    clock: &dyn Clock,
    steps: &[Step],
    why: &str,
) -> Result<Vec<Heal>, RecoverError> {
    let q = Quarantine {
        storage,
        layout,
        clock,
    };
    let mut heals = Vec::new();
    for step in steps {
        let path = layout.root().join(step.path());
        let err = |op: &'static str| {
            let shown = step.path().to_owned();
            move |source| RecoverError::Step {
                op,
                path: shown,
                source,
            }
        };
        let under =
            |dir: &str| std::path::Path::new(step.path()).starts_with(dir) && step.path() != dir;
        let component = if under(crate::layout::rel::STATE) {
            "snapshot"
        } else if under(crate::layout::rel::RUN) {
            "heartbeat"
        } else {
            "journal"
        };
        match step {
            Step::Truncate { keep_bytes, .. } => {
                let before = storage.read(&path).map_err(err("read"))?.len();
                let copy = q.copy(&path).map_err(err("copy to quarantine"))?;
                let mut f = storage.open_append(&path).map_err(err("open"))?;
                f.set_len(*keep_bytes).map_err(err("truncate"))?;
                f.sync_data().map_err(err("fdatasync"))?;
                heals.push(Heal {
                    component: component.into(),
                    action: format!("kept the first {keep_bytes} bytes ({why})"),
                    path: step.path().to_owned(),
                    quarantined: Some(layout.display(&copy)),
                    before: format!("{before} bytes"),
                    after: format!("{keep_bytes} bytes"),
                });
            }
            Step::MoveAside { .. } => {
                if !storage.exists(&path) {
                    continue;
                }
                let moved = q.move_aside(&path).map_err(err("move to quarantine"))?;
                heals.push(Heal {
                    component: component.into(),
                    action: format!("moved to quarantine ({why})"),
                    path: step.path().to_owned(),
                    quarantined: Some(layout.display(&moved)),
                    before: "present".into(),
                    after: "moved to quarantine".into(),
                });
            }
        }
    }
    Ok(heals)
}

/// Recover state `S` of the engine journal: `init` builds the empty state, `apply` folds one
/// record into it. Decides first (journal, snapshots and heartbeat together), then carries
/// out the decided steps, then loads the chosen snapshot and replays the rest.
pub fn recover<S: Serialize + DeserializeOwned>(
    spec: &RecoverSpec<'_>,
    init: impl FnOnce() -> S,
    apply: &mut dyn FnMut(&mut S, &RecordRef<'_>) -> Result<(), String>,
) -> Result<(Journal, Recovered<S>), RecoverError> {
    let mode = match spec.policy {
        OpenPolicy::RefuseDangerous => Mode::Live,
        OpenPolicy::SalvageDangerous => Mode::Paper,
    };
    let assessment = assess(&AssessSpec {
        storage: &*spec.storage,
        layout: spec.layout,
        clock: &*spec.clock,
        snapshot_name: spec.snapshot_name,
        report_snapshots: spec.report_snapshots,
        check_record: spec.check_record,
        check_state: &|s| {
            serde_json::from_str::<S>(s)
                .map(|_| ())
                .map_err(|e| e.to_string())
        },
        engine_may_run: false,
    })?;
    let decision = assessment.decide(mode);
    if decision.outcome == Outcome::Refuse {
        return Err(RecoverError::Refused {
            decision: Box::new(decision),
        });
    }
    let why = match decision.outcome {
        Outcome::Salvage => "paper-mode salvage",
        _ => "self-heal at start",
    };
    let mut heals = apply_steps(
        &*spec.storage,
        spec.layout,
        &*spec.clock,
        &decision.steps,
        why,
    )?;
    let snapshots = Snapshots {
        storage: &*spec.storage,
        layout: spec.layout,
        clock: &*spec.clock,
        name: spec.snapshot_name,
        retain: spec.snapshot_retain,
    };
    let (snapshot_seq, mut state) = match &decision.snapshot {
        Some((seq, _)) => (*seq, snapshots.read_state::<S>(*seq)?),
        None => (0, init()),
    };
    let mut replayed = 0u64;
    let (journal, report) = Journal::open(
        Arc::clone(&spec.storage),
        spec.layout,
        &spec.layout.engine_journal(),
        Arc::clone(&spec.clock),
        spec.opts,
        OpenPolicy::RefuseDangerous,
        &mut |rec: &RecordRef<'_>| {
            if rec.seq > snapshot_seq {
                apply(&mut state, rec)?;
                replayed += 1;
            }
            Ok(())
        },
    )?;
    heals.extend(report.heals.iter().cloned());
    Ok((
        journal,
        Recovered {
            state,
            snapshot_seq,
            last_seq: report.scan.last_seq,
            replayed,
            heals,
            journal: report,
            decision,
        },
    ))
}
