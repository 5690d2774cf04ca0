//! Can this data directory's engine state be recovered, and how (SPEC §2, §4): the one
//! decision that the engine's start, `ballast journal verify`, `ballast heal` and the
//! supervisor's healer all take, so that they cannot disagree.
//!
//! The I/O layer (`ballast_store::recovery::assess`) reads the journal and the snapshots
//! without changing anything into [`RecoveryFacts`]; [`decide`] turns them into a
//! [`Decision`]: what is wrong, how each finding is classified, which snapshot recovery starts
//! from, and the exact steps a start carries out. The engine applies those steps and nothing
//! else; the tools print them.
//!
//! The rules:
//! - A record (or snapshot) of a newer format is CODE_SCHEMA: refused in every mode, never
//!   repaired ("upgrade Ballast").
//! - A bad record with the shape of a crash's partial last write is a torn tail (safe: copy,
//!   truncate) only while nothing says the records after the valid prefix were acknowledged.
//!   Evidence of acknowledgement is an intact snapshot covering a later seq or the engine's
//!   heartbeat reporting a later durable seq; with it, the loss is dangerous, like damage in
//!   the middle of the journal.
//! - Dangerous damage (mid-journal corruption, a seq gap, a record whose body does not parse
//!   as its type, missing acknowledged records, a snapshot that does not belong to this
//!   journal or does not parse as the state): live refuses to start; paper salvages — the
//!   valid prefix is kept, everything after it, every snapshot ahead of it and every snapshot
//!   that cannot be used go to quarantine — decided here, before anything is written, so a
//!   paper engine always comes back.
//! - A snapshot is used only if it is intact, fits the state, covers a seq inside the kept
//!   prefix and is bound to this journal (it carries the CRC of the record at the seq it
//!   covers, and that record has it).

use serde::{Deserialize, Serialize};

use crate::config::Mode;
use crate::heal::{Class, FailureClass};

/// What the journal scan found (read-only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalFacts {
    /// The journal directory, relative to the data directory (`journal/engine`).
    pub dir: String,
    /// Every segment file, in seq order.
    pub segments: Vec<String>,
    /// Seq of the last record of the valid prefix (0: none).
    pub last_seq: u64,
    /// The first problem, if any.
    pub problem: Option<JournalProblem>,
    /// CRC32C of the records at the seqs the snapshots cover (those inside the valid prefix).
    pub crc_at: Vec<(u64, u32)>,
    /// Files in the directory that are not segments (a renamed segment shows up here).
    pub other_files: Vec<String>,
}

impl JournalFacts {
    fn crc(&self, seq: u64) -> Option<u32> {
        self.crc_at.iter().find(|(s, _)| *s == seq).map(|(_, c)| *c)
    }
}

/// The first problem of a journal and where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalProblem {
    pub segment: String,
    /// Byte offset of the bad record in its segment (0 for a problem with the segment itself).
    pub offset: u64,
    pub kind: ProblemKind,
    /// The shape of a crash's partial last write: one partial line then only zero bytes or
    /// the end, in the last segment holding data (only then can it be a torn tail).
    pub tail_shaped: bool,
    /// Bytes from `offset` to the end of the segment.
    pub bytes: u64,
    pub line: u64,
    /// Empty segments after the damaged one.
    pub empty_after: Vec<String>,
    /// Where and what, in words (`<segment> line 12 (byte 3456): corrupt record (…)`).
    pub at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProblemKind {
    /// Bad checksum or framing.
    Corrupt {
        reason: String,
    },
    SeqGap {
        expected: u64,
        found: u64,
    },
    /// A valid record of a newer format.
    Newer {
        found: u32,
        supported: u32,
    },
    /// Checksum ok, but the body does not parse as its type.
    BadBody {
        reason: String,
    },
}

/// One snapshot file (of the engine's state or of the reports written beside it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotFacts {
    /// Relative to the data directory (`state/engine.snapshot.<seq>.json`).
    pub file: String,
    /// `None`: a leftover temp file of an interrupted write.
    pub seq: Option<u64>,
    /// Whether it holds the engine's state (the only snapshot recovery starts from).
    pub engine: bool,
    pub check: SnapshotCheck,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "check", rename_all = "snake_case")]
pub enum SnapshotCheck {
    /// Checksum ok. `bound`: CRC32C of the journal record at the seq it covers, as recorded
    /// when it was written (`None`: written without one, by an older Ballast). `unfit`: why
    /// the state does not parse in this build, if it does not.
    Intact {
        bound: Option<u32>,
        unfit: Option<String>,
    },
    Corrupt {
        problem: String,
    },
    Newer {
        found: u32,
    },
    Temp,
}

/// Everything the decision looks at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryFacts {
    /// `Err`: the journal could not be read at all.
    pub journal: Result<JournalFacts, String>,
    pub snapshots: Vec<SnapshotFacts>,
    /// The last durable seq the engine's heartbeat (`run/engine.heartbeat`) reported.
    pub heartbeat_seq: Option<u64>,
    /// An engine held `run/engine.lock` when the files were read (checked after reading
    /// them): it is appending to the journal and writing snapshots, so a partial record at
    /// the very end is being written and a snapshot's temp file is being filled — neither is
    /// damage. (The engine's own start reads with this `false`: nobody else writes then.)
    #[serde(default)]
    pub engine_running: bool,
}

/// The heartbeat file, relative to the data directory.
pub const HEARTBEAT: &str = crate::layout::rel::HEARTBEAT;

/// One change a start carries out; paths relative to the data directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// Copy the file to quarantine, then truncate it to `keep_bytes`.
    Truncate { path: String, keep_bytes: u64 },
    /// Move the file to quarantine.
    MoveAside { path: String },
}

impl Step {
    pub fn path(&self) -> &str {
        match self {
            Step::Truncate { path, .. } | Step::MoveAside { path } => path,
        }
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// `journal` or `snapshots`.
    pub component: String,
    pub target: String,
    pub class: Class,
    pub failure: FailureClass,
    pub reason: String,
    /// `heal`: the one safe step (applied by `ballast heal` and at the engine's start).
    /// `dangerous`: what a paper engine's salvage does (never applied by `ballast heal`).
    pub steps: Vec<Step>,
}

/// What a start does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Nothing to do.
    Clean,
    /// Safe heals, then start.
    Heal,
    /// Paper: salvage (DEGRADED, CRITICAL alert), then start.
    Salvage,
    /// The engine does not start; nothing is changed.
    Refuse,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub mode: Mode,
    pub outcome: Outcome,
    pub findings: Vec<Finding>,
    /// The steps the engine's start carries out, in order (none when it refuses).
    pub steps: Vec<Step>,
    /// Seq of the journal's last record once the steps are done.
    pub keep_seq: u64,
    /// Seq and file of the engine snapshot recovery starts from (`None`: full replay).
    pub snapshot: Option<(u64, String)>,
    /// Why the engine does not start, in words.
    pub refusal: Option<String>,
    /// With the engine running: what is being written right now and was therefore not judged
    /// (a partial last record, a snapshot's temp file), in words.
    pub writing: Vec<String>,
}

impl Decision {
    pub fn dangerous(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.class == Class::Dangerous)
    }

    /// One line saying what the engine's start does.
    pub fn summary(&self) -> String {
        match self.outcome {
            Outcome::Clean | Outcome::Heal => format!(
                "the engine starts{} from {}, journal at seq {}",
                if self.outcome == Outcome::Heal {
                    " after the heals above"
                } else {
                    ""
                },
                match &self.snapshot {
                    Some((seq, file)) => format!("{file} (seq {seq}) plus a replay"),
                    None => "a full replay of the journal".to_owned(),
                },
                self.keep_seq
            ),
            Outcome::Salvage => format!(
                "a paper engine salvages at its start: the valid journal prefix up to seq {} is kept, {} file(s) go to quarantine first, it starts from {} and logs each finding as CRITICAL (under `ballast run` the journal stays CRITICAL in health until the next inspection)",
                self.keep_seq,
                self.steps.len(),
                match &self.snapshot {
                    Some((seq, file)) => format!("{file} (seq {seq}) plus a replay"),
                    None => "a full replay".to_owned(),
                }
            ),
            Outcome::Refuse => self
                .refusal
                .clone()
                .unwrap_or_else(|| "the engine refuses to start".into()),
        }
    }
}

/// The highest seq something says was acknowledged, and what says so.
fn evidence(f: &RecoveryFacts) -> Option<(u64, String)> {
    let mut best: Option<(u64, String)> = None;
    for s in &f.snapshots {
        if let (Some(seq), SnapshotCheck::Intact { .. }) = (s.seq, &s.check) {
            if best.as_ref().is_none_or(|(b, _)| seq > *b) {
                best = Some((seq, format!("snapshot {} covers seq {seq}", s.file)));
            }
        }
    }
    if let Some(hb) = f.heartbeat_seq {
        if best.as_ref().is_none_or(|(b, _)| hb > *b) {
            best = Some((
                hb,
                format!("the engine's heartbeat ({HEARTBEAT}) reported seq {hb} durable"),
            ));
        }
    }
    best
}

struct Builder {
    findings: Vec<Finding>,
}

impl Builder {
    fn push(
        &mut self,
        component: &str,
        target: impl Into<String>,
        class: Class,
        failure: FailureClass,
        reason: String,
        steps: Vec<Step>,
    ) {
        self.findings.push(Finding {
            component: component.to_owned(),
            target: target.into(),
            class,
            failure,
            reason,
            steps,
        });
    }
}

const PAPER_LIVE: &str =
    "a live engine refuses to start; a paper engine salvages at its start (copy first)";

/// Decide how the engine's state is recovered from `facts`, in `mode`.
pub fn decide(mode: Mode, facts: &RecoveryFacts) -> Decision {
    let mut b = Builder {
        findings: Vec::new(),
    };
    let mut writing = Vec::new();
    let ack = evidence(facts);
    let kept = match &facts.journal {
        Ok(j) => j.last_seq,
        Err(_) => 0,
    };
    match &facts.journal {
        Err(error) => b.push(
            "journal",
            crate::layout::rel::ENGINE_JOURNAL,
            Class::Dangerous,
            FailureClass::PersistentConfig,
            format!(
                "cannot be read ({error}): nothing was changed; fix the directory's permissions or the disk, then start again"
            ),
            Vec::new(),
        ),
        Ok(j) => journal(&mut b, j, ack.as_ref(), facts, &mut writing),
    }
    // Past a newer-format record the journal may well go on: snapshots beyond it are not
    // judged by this build.
    let newer = matches!(
        &facts.journal,
        Ok(JournalFacts {
            problem: Some(JournalProblem {
                kind: ProblemKind::Newer { .. },
                ..
            }),
            ..
        })
    );
    for s in &facts.snapshots {
        if newer && s.seq.is_some_and(|seq| seq > kept) {
            continue;
        }
        if facts.engine_running && s.seq.is_none() {
            writing.push(format!("{} (a snapshot being written)", s.file));
            continue;
        }
        snapshot(&mut b, s, facts.journal.as_ref().ok(), kept);
    }
    let snapshot = facts
        .snapshots
        .iter()
        .filter(|s| s.engine)
        .filter(|s| {
            b.findings
                .iter()
                .all(|f| f.target != s.file || f.class == Class::Skip)
        })
        .filter_map(|s| match (s.seq, &s.check) {
            (Some(seq), SnapshotCheck::Intact { .. }) if seq <= kept => Some((seq, s.file.clone())),
            _ => None,
        })
        .max_by_key(|(seq, _)| *seq);

    let (outcome, refusal) = outcome(mode, &b.findings);
    let steps = match outcome {
        Outcome::Refuse | Outcome::Clean => Vec::new(),
        Outcome::Heal | Outcome::Salvage => {
            let mut steps: Vec<Step> = Vec::new();
            for f in &b.findings {
                for s in &f.steps {
                    if !steps.iter().any(|x| x.path() == s.path()) {
                        steps.push(s.clone());
                    }
                }
            }
            steps
        }
    };
    Decision {
        mode,
        outcome,
        findings: b.findings,
        steps,
        keep_seq: kept,
        snapshot: if outcome == Outcome::Refuse {
            None
        } else {
            snapshot
        },
        refusal,
        writing,
    }
}

/// What a start does with these findings, and why it refuses if it does.
fn outcome(mode: Mode, findings: &[Finding]) -> (Outcome, Option<String>) {
    let blocking = findings.iter().find(|f| {
        f.class == Class::Dangerous
            && matches!(
                f.failure,
                FailureClass::CodeSchema | FailureClass::PersistentConfig
            )
    });
    let dangerous = findings.iter().find(|f| f.class == Class::Dangerous);
    match (blocking, dangerous, mode) {
        (Some(f), _, _) => (
            Outcome::Refuse,
            Some(format!(
                "the engine does not start, in any mode ({} here): {}: {}",
                mode.as_str(),
                f.target,
                f.reason
            )),
        ),
        (None, Some(f), Mode::Live) => (
            Outcome::Refuse,
            Some(format!(
                "live start refused: {} dangerous recovery problem(s); first: {} {}: {}. Nothing was changed",
                findings
                    .iter()
                    .filter(|f| f.class == Class::Dangerous)
                    .count(),
                f.component,
                f.target,
                f.reason
            )),
        ),
        (None, Some(_), Mode::Paper) => (Outcome::Salvage, None),
        (None, None, _) if findings.iter().any(|f| f.class == Class::Heal) => (Outcome::Heal, None),
        (None, None, _) => (Outcome::Clean, None),
    }
}

fn journal(
    b: &mut Builder,
    j: &JournalFacts,
    ack: Option<&(u64, String)>,
    facts: &RecoveryFacts,
    writing: &mut Vec<String>,
) {
    let hb = facts.heartbeat_seq;
    let kept = j.last_seq;
    let at = |p: &JournalProblem| format!("{}/{}", j.dir, p.segment);
    // Ahead of the kept prefix, the heartbeat would be evidence against the salvaged journal
    // at the next start: a salvage moves it aside with the rest (the engine rewrites it).
    let heartbeat_step = || {
        hb.filter(|h| *h > kept).map(|_| Step::MoveAside {
            path: HEARTBEAT.to_owned(),
        })
    };
    let acknowledged_after = ack.filter(|(seq, _)| *seq > kept);
    let Some(p) = &j.problem else {
        if let Some((seq, why)) = acknowledged_after {
            let others = if j.other_files.is_empty() {
                String::new()
            } else {
                format!(
                    "; files in {} that are not segments: {}",
                    j.dir,
                    j.other_files.join(", ")
                )
            };
            b.push(
                "journal",
                j.dir.clone(),
                Class::Dangerous,
                FailureClass::LogicRisk,
                format!(
                    "the journal ends at seq {kept} but {why}: acknowledged records up to seq {seq} are missing (a deleted, renamed or truncated last segment?{others}); restore them if you can — {PAPER_LIVE}: it continues from seq {kept} and moves every snapshot ahead of it to quarantine"
                ),
                heartbeat_step().into_iter().collect(),
            );
        }
        return;
    };
    if let ProblemKind::Newer { found, supported } = &p.kind {
        b.push(
            "journal",
            at(p),
            Class::Dangerous,
            FailureClass::CodeSchema,
            format!(
                "line {} (byte {}): written by a newer Ballast (record format {found}, this build reads {supported}): upgrade Ballast to read it; nothing is repaired or salvaged (FAILED_API_SCHEMA)",
                p.line, p.offset
            ),
            Vec::new(),
        );
        return;
    }
    let torn = p.tail_shaped && matches!(p.kind, ProblemKind::Corrupt { .. });
    if torn && acknowledged_after.is_none() && facts.engine_running {
        // The running engine's append in progress (nothing says it was acknowledged).
        writing.push(format!(
            "{}: the record after seq {kept} ({} bytes so far, line {})",
            at(p),
            p.bytes,
            p.line
        ));
        return;
    }
    if torn && acknowledged_after.is_none() {
        torn_tail(b, j, p);
        return;
    }
    // Dangerous: the valid prefix is what a paper salvage keeps.
    let mut steps = salvage_steps(j, p);
    steps.extend(heartbeat_step());
    let what = match (&p.kind, acknowledged_after) {
        (ProblemKind::Corrupt { .. }, Some((seq, why))) if torn => format!(
            "{}: shaped like a torn tail, but {why}: records up to seq {seq} were acknowledged, so cutting them is not a torn-tail repair",
            p.at
        ),
        (ProblemKind::BadBody { .. }, _) => format!(
            "{}: the checksum is right but the body does not parse as its record type (written by a bug or another program)",
            p.at
        ),
        _ => format!(
            "corruption in the middle of the journal ({}): acknowledged records after it would be lost",
            p.at
        ),
    };
    b.push(
        "journal",
        at(p),
        Class::Dangerous,
        FailureClass::LogicRisk,
        format!("{what}; {PAPER_LIVE}: it keeps the valid prefix up to seq {kept}"),
        steps,
    );
}

/// A torn tail nothing says was acknowledged: cut after a copy to quarantine, with the empty
/// segments after it (they would start at the wrong seq).
fn torn_tail(b: &mut Builder, j: &JournalFacts, p: &JournalProblem) {
    let kept = j.last_seq;
    let at = format!("{}/{}", j.dir, p.segment);
    b.push(
        "journal",
        at.clone(),
        Class::Heal,
        FailureClass::Transient,
        format!(
            "torn tail at line {} ({}): the last {} bytes were never acknowledged (nothing says seq {} or later was); copied to quarantine and truncated",
            p.line,
            match &p.kind {
                ProblemKind::Corrupt { reason } => reason.as_str(),
                _ => "",
            },
            p.bytes,
            kept + 1
        ),
        vec![Step::Truncate {
            path: at,
            keep_bytes: p.offset,
        }],
    );
    for e in &p.empty_after {
        let path = format!("{}/{e}", j.dir);
        b.push(
            "journal",
            path.clone(),
            Class::Heal,
            FailureClass::Transient,
            "an empty segment after the torn tail (it would start at the wrong seq): moved to quarantine".into(),
            vec![Step::MoveAside { path }],
        );
    }
}

/// What a paper salvage does to the journal: the segment with the problem cut at it (or moved
/// aside when nothing before it is valid) and every later segment moved aside.
fn salvage_steps(j: &JournalFacts, p: &JournalProblem) -> Vec<Step> {
    let mut steps = Vec::new();
    let first = j
        .segments
        .iter()
        .position(|s| *s == p.segment)
        .unwrap_or(j.segments.len());
    for (i, seg) in j.segments.iter().enumerate().skip(first) {
        let path = format!("{}/{seg}", j.dir);
        if i == first && p.offset > 0 {
            steps.push(Step::Truncate {
                path,
                keep_bytes: p.offset,
            });
        } else {
            steps.push(Step::MoveAside { path });
        }
    }
    steps
}

fn snapshot(b: &mut Builder, s: &SnapshotFacts, j: Option<&JournalFacts>, kept: u64) {
    let c = "snapshots";
    let aside = || {
        vec![Step::MoveAside {
            path: s.file.clone(),
        }]
    };
    let Some(seq) = s.seq else {
        b.push(
            c,
            s.file.clone(),
            Class::Heal,
            FailureClass::Transient,
            "leftover of an interrupted snapshot write: moved to quarantine".into(),
            aside(),
        );
        return;
    };
    match &s.check {
        SnapshotCheck::Temp => {}
        SnapshotCheck::Corrupt { problem } => b.push(
            c,
            s.file.clone(),
            Class::Heal,
            FailureClass::Transient,
            format!(
                "corrupt: {problem}: moved to quarantine; recovery uses an older snapshot and replays the journal"
            ),
            aside(),
        ),
        SnapshotCheck::Newer { found } => b.push(
            c,
            s.file.clone(),
            Class::Dangerous,
            FailureClass::CodeSchema,
            format!(
                "written by a newer Ballast (format {found}): upgrade Ballast to read it; nothing is moved or repaired (FAILED_API_SCHEMA)"
            ),
            Vec::new(),
        ),
        SnapshotCheck::Intact { .. } if seq > kept => b.push(
            c,
            s.file.clone(),
            Class::Dangerous,
            FailureClass::LogicRisk,
            format!(
                "covers seq {seq} but the journal's valid records end at seq {kept}: not used; {PAPER_LIVE}, moving it to quarantine"
            ),
            aside(),
        ),
        SnapshotCheck::Intact { unfit: Some(why), .. } => b.push(
            c,
            s.file.clone(),
            Class::Dangerous,
            FailureClass::LogicRisk,
            format!(
                "intact (checksum ok) but its state does not parse in this build ({why}): not used; {PAPER_LIVE}, moving it to quarantine and replaying the journal"
            ),
            aside(),
        ),
        SnapshotCheck::Intact { bound: None, .. } => b.push(
            c,
            s.file.clone(),
            Class::Heal,
            FailureClass::Transient,
            "written without a binding to its journal (by an older Ballast), so it cannot be shown to belong here: not used; moved to quarantine, recovery replays the journal".into(),
            aside(),
        ),
        SnapshotCheck::Intact {
            bound: Some(crc), ..
        } => {
            let actual = j.and_then(|j| j.crc(seq));
            if actual != Some(*crc) {
                b.push(
                    c,
                    s.file.clone(),
                    Class::Dangerous,
                    FailureClass::LogicRisk,
                    format!(
                        "does not belong to this journal: it was taken after a record with CRC {crc:08x}, and the journal's record at seq {seq} has {} (copied from another data directory?): not used; {PAPER_LIVE}, moving it to quarantine and replaying the journal",
                        actual.map_or("none".to_owned(), |a| format!("CRC {a:08x}"))
                    ),
                    aside(),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests;
