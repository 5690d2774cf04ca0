//! `ballast journal verify|dump`: read-only inspection of the engine journal and snapshots.

use super::err;
use super::out;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use ballast_core::config::Mode;
use ballast_core::heal::Class;
use ballast_core::recovery::{Decision, Outcome, SnapshotFacts};
use ballast_store::journal::{self, Scan, Verdict};
use ballast_store::record::RecordRef;
use ballast_store::recovery::{AssessSpec, Assessment, assess_visiting};
use ballast_store::snapshot::{SnapshotStatus, Snapshots};
use ballast_store::{Layout, RealStorage, SystemClock};
use clap::Subcommand;
use serde::Serialize;

use super::DataDirArg;
use crate::exit::{self, Exit};
use crate::settings;

#[derive(Debug, Subcommand)]
pub enum JournalCommand {
    /// Validate every record and snapshot without changing anything, and say what the
    /// engine's start will do (the same decision the engine takes).
    ///
    /// Exit status: 0 clean; 1 a problem a heal can fix (torn tail, corrupt snapshot);
    /// 2 dangerous damage (mid-journal corruption, seq gap, missing acknowledged records, a
    /// snapshot that does not belong to the journal, newer format).
    Verify {
        #[command(flatten)]
        data_dir: DataDirArg,
        /// The supervisor's ops journal (journal/ops) instead of the engine's.
        #[arg(long)]
        ops: bool,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Print the journal's valid records (exit status as for verify).
    Dump {
        #[command(flatten)]
        data_dir: DataDirArg,
        /// The supervisor's ops journal (journal/ops) instead of the engine's.
        #[arg(long)]
        ops: bool,
        /// One raw journal line per record (each is a JSON object).
        #[arg(long)]
        json: bool,
        /// Start at this seq.
        #[arg(long, value_name = "SEQ", default_value_t = 1)]
        from: u64,
        /// Only records of this type.
        #[arg(long = "type", value_name = "TYPE")]
        kind: Option<String>,
        /// At most this many records.
        #[arg(long, value_name = "N")]
        limit: Option<u64>,
    },
}

pub fn journal(cmd: JournalCommand) -> anyhow::Result<Exit> {
    match cmd {
        JournalCommand::Verify {
            data_dir,
            ops,
            json,
        } => {
            let result = verify(
                &settings::DataDir::new(data_dir.data_dir.as_deref(), None).path,
                ops,
                json,
            );
            // `--json` answers in JSON, errors too.
            match result {
                Err(e) if json => {
                    out!("{}", serde_json::json!({ "error": format!("{e:#}") }));
                    Err(e)
                }
                other => other,
            }
        }
        JournalCommand::Dump {
            data_dir,
            ops,
            json,
            from,
            kind,
            limit,
        } => {
            if let Some(k) = kind.as_deref() {
                let known = ballast_engine::runtime::RECORD_TYPES;
                if !ops && !known.contains(&k) {
                    err!(
                        "ballast journal dump: no engine record type {k:?}\n    help: the types are {}",
                        known.join(", ")
                    );
                    return Ok(exit::FAILURE);
                }
            }
            dump(
                &settings::DataDir::new(data_dir.data_dir.as_deref(), None).path,
                ops,
                json,
                from,
                kind.as_deref(),
                limit,
            )
        }
    }
}

#[derive(Serialize)]
struct Report<'a> {
    data_dir: String,
    status: &'static str,
    /// An engine held `run/engine.lock` while this was read (it is writing the journal).
    engine_running: bool,
    journal: Option<&'a Scan>,
    snapshots: &'a [SnapshotFacts],
    /// What the engine's start does, per mode.
    paper: &'a Decision,
    live: &'a Decision,
}

#[derive(Serialize)]
struct OpsReport<'a> {
    data_dir: String,
    status: &'static str,
    journal: &'a Scan,
}

/// The engine journal, snapshots and heartbeat, read as the engine's start reads them (a
/// running engine's files in the order that keeps them consistent), `visit` called for each
/// record of the journal's valid prefix.
fn assess_engine(dir: &Path, visit: &mut journal::scan::Visitor<'_>) -> anyhow::Result<Assessment> {
    require_dir(dir)?;
    let layout = Layout::new(dir);
    assess_visiting(
        &AssessSpec {
            storage: &RealStorage,
            layout: &layout,
            clock: &SystemClock,
            snapshot_name: "engine",
            report_snapshots: &["pipeline", "universe"],
            check_record: ballast_core::engine::kinds::check_body,
            check_state: &ballast_core::engine::kinds::check_state,
            engine_may_run: true,
        },
        visit,
    )
    .context("cannot read the snapshots")
}

/// What verify says of a running engine (its pid as its lock names it).
fn running_line(dir: &Path, d: &Decision) -> String {
    let pid = ballast_store::files::lock::engine_holder(&Layout::new(dir))
        .and_then(|h| h.pid)
        .map(|p| format!(" (pid {p})"))
        .unwrap_or_default();
    let mut line = format!(
        "engine: the engine is running{pid}; the journal is being written: this is the journal as it was read, and its next start decides again from what is there then"
    );
    if !d.writing.is_empty() {
        line.push_str(&format!(
            "\n  being written (not judged): {}",
            d.writing.join("; ")
        ));
    }
    line
}

/// Status word and exit code of a decision (the same facts give the same findings in
/// either mode; only the outcome differs).
fn decision_status(d: &Decision) -> (&'static str, Exit) {
    if d.dangerous().next().is_some() {
        ("dangerous", exit::DANGEROUS)
    } else if d.outcome == Outcome::Heal {
        ("healable", exit::HEALABLE)
    } else {
        ("clean", exit::OK)
    }
}

fn status(scan: &Scan, snapshots: &[SnapshotStatus]) -> (&'static str, Exit) {
    match scan.verdict {
        Verdict::Dangerous(_) => ("dangerous", exit::DANGEROUS),
        Verdict::TornTail(_) => ("healable", exit::HEALABLE),
        Verdict::Clean if snapshots.iter().any(|s| s.problem.is_some()) => {
            ("healable", exit::HEALABLE)
        }
        Verdict::Clean => ("clean", exit::OK),
    }
}

fn require_dir(dir: &Path) -> anyhow::Result<()> {
    if !dir.is_dir() {
        anyhow::bail!(
            "data directory {} does not exist; pass --data-dir DIR (or set BALLAST_HOME) to point at one",
            dir.display()
        );
    }
    Ok(())
}

fn inspect(
    dir: &Path,
    ops: bool,
    visit: &mut journal::scan::Visitor<'_>,
) -> anyhow::Result<(Scan, Vec<SnapshotStatus>)> {
    require_dir(dir)?;
    let layout = Layout::new(dir);
    let path = if ops {
        layout.ops_journal()
    } else {
        layout.engine_journal()
    };
    let scan = journal::scan(&RealStorage, &path, visit)
        .with_context(|| format!("cannot read the journal in {}", path.display()))?;
    if ops {
        // The ops journal has no snapshots.
        return Ok((scan, Vec::new()));
    }
    let snapshots = Snapshots {
        storage: &RealStorage,
        layout: &layout,
        clock: &SystemClock,
        name: "engine",
        retain: usize::MAX,
    }
    .inspect()
    .context("cannot read the snapshots")?;
    Ok((scan, snapshots))
}

fn verify(dir: &Path, ops: bool, json: bool) -> anyhow::Result<Exit> {
    if ops {
        return verify_ops(dir, json);
    }
    // A link among the engine's own directories: the engine refuses to start in every mode
    // (it writes nothing through one), so verify says so too.
    if let Some(why) = ballast_core::heal::link_refusal(&Layout::new(dir).symlink_obs()) {
        if json {
            out!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "data_dir": dir.display().to_string(),
                    "status": "dangerous",
                    "engine_refusal": why,
                }))?
            );
        } else {
            out!("verdict: DANGEROUS: {why}");
            out!("engine start: refused in paper and live mode; nothing was changed");
            out!("status: dangerous");
        }
        return Ok(exit::DANGEROUS);
    }
    let a = assess_engine(dir, &mut |_| Ok(()))?;
    let paper = a.decide(Mode::Paper);
    let live = a.decide(Mode::Live);
    let (word, code) = decision_status(&paper);
    if json {
        let report = Report {
            data_dir: dir.display().to_string(),
            status: word,
            engine_running: a.facts.engine_running,
            journal: a.scan.as_ref(),
            snapshots: &a.facts.snapshots,
            paper: &paper,
            live: &live,
        };
        out!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(code);
    }
    match &a.scan {
        Some(scan) => print_scan(scan),
        None => out!("journal {}", Layout::new(dir).engine_journal().display()),
    }
    out!("snapshots {}", Layout::new(dir).state().display());
    if a.facts.snapshots.is_empty() {
        out!("  none (recovery replays the whole journal)");
    }
    for s in &a.facts.snapshots {
        let flagged = paper.findings.iter().any(|f| f.target == s.file);
        match (s.seq, flagged) {
            (Some(seq), false) => out!("  {}  covers seq {seq}  ok", s.file),
            _ => out!("  {}  (see below)", s.file),
        }
    }
    if let Some(hb) = a.facts.heartbeat_seq {
        out!("heartbeat: the engine last reported seq {hb} durable");
    }
    if paper.findings.is_empty() {
        out!("verdict: clean");
    }
    for f in &paper.findings {
        let class = match f.class {
            Class::Heal => "HEAL",
            Class::Dangerous => "DANGEROUS",
            Class::Skip => "SKIP",
        };
        out!("  {class:<10} {}: {}", f.target, f.reason);
    }
    if paper.outcome == Outcome::Heal {
        out!(
            "  The engine heals these at its start (copy to quarantine first); `ballast heal` does it now"
        );
    }
    if a.facts.engine_running {
        out!("{}", running_line(dir, &paper));
    }
    if a.facts.engine_running && paper.outcome == Outcome::Clean {
        // What a start would do is decided at that start.
    } else if paper.summary() == live.summary() {
        out!("engine start: {}", paper.summary());
    } else {
        out!("engine start, paper mode: {}", paper.summary());
        out!("engine start, live mode: {}", live.summary());
    }
    out!("status: {word}");
    Ok(code)
}

/// `journal verify --ops`: the supervisor's ops journal (a torn tail there is the
/// supervisor's to heal when it opens it).
fn verify_ops(dir: &Path, json: bool) -> anyhow::Result<Exit> {
    let (scan, snapshots) = inspect(dir, true, &mut |_| Ok(()))?;
    let (word, code) = status(&scan, &snapshots);
    if json {
        let report = OpsReport {
            data_dir: dir.display().to_string(),
            status: word,
            journal: &scan,
        };
        out!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(code);
    }
    print_scan(&scan);
    match &scan.verdict {
        Verdict::Clean => out!("  verdict: clean"),
        Verdict::TornTail(t) => out!(
            "  verdict: torn tail in {} at line {} (byte {}, {} bytes, {}): safe to heal; the supervisor heals it when it opens the ops journal",
            t.segment,
            t.line,
            t.offset,
            t.bytes,
            t.reason
        ),
        Verdict::Dangerous(d) => {
            out!("  verdict: DANGEROUS: {d}. Nothing was changed")
        }
    }
    out!("status: {word}");
    Ok(code)
}

fn print_scan(scan: &Scan) {
    out!("journal {}", scan.dir.display());
    out!(
        "  {} segment(s), {} valid record(s), last seq {}",
        scan.segments.len(),
        scan.records,
        scan.last_seq
    );
    for s in &scan.segments {
        out!(
            "  {}  first seq {}  {} record(s)  {} bytes",
            s.name,
            s.first_seq,
            s.records,
            s.bytes
        );
    }
    for f in &scan.other_files {
        out!("  (ignored: {f} is not a segment)");
    }
}

fn dump(
    dir: &Path,
    ops: bool,
    json: bool,
    from: u64,
    kind: Option<&str>,
    limit: Option<u64>,
) -> anyhow::Result<Exit> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut printed = 0u64;
    let mut write_err: Option<std::io::Error> = None;
    // The types met, to name them when --type matched none (at most 100 kept).
    let mut seen: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    let result = {
        let mut visit = |r: &RecordRef<'_>| -> Result<(), String> {
            if kind.is_some() && seen.len() < 100 {
                seen.insert(r.kind.to_string());
            }
            if r.seq < from
                || kind.is_some_and(|k| k != r.kind)
                || limit.is_some_and(|l| printed >= l)
            {
                return Ok(());
            }
            printed += 1;
            let res = if json {
                out.write_all(r.line).and_then(|()| out.write_all(b"\n"))
            } else {
                writeln!(
                    out,
                    "{:>8}  {}  {:<20}  {}",
                    r.seq,
                    r.ts,
                    r.kind,
                    r.body.get()
                )
            };
            res.map_err(|e| {
                let msg = e.to_string();
                write_err = Some(e);
                msg
            })
        };
        // One read for the records and the verdict (the engine's: its evidence first).
        if ops {
            inspect(dir, true, &mut visit).map(|(scan, snapshots)| {
                let (word, code) = status(&scan, &snapshots);
                (word, code, scan.last_seq, false)
            })
        } else {
            assess_engine(dir, &mut visit).map(|a| {
                let (word, code) = decision_status(&a.decide(Mode::Paper));
                let last = a.facts.journal.as_ref().map_or(0, |j| j.last_seq);
                (word, code, last, a.facts.engine_running)
            })
        }
    };
    out.flush().ok();
    if let Some(e) = write_err {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return Ok(exit::OK); // `ballast journal dump | head`
        }
        return Err(e.into());
    }
    let (word, code, last_seq, running) = result?;
    // The ops journal's types are open-ended: one that matched nothing is named with those met.
    if let Some(k) = kind.filter(|k| ops && !seen.contains(*k)) {
        err!(
            "ballast journal dump: no record of type {k:?} in this journal\n    help: the types in it are {}",
            if seen.is_empty() {
                "none (it is empty)".to_owned()
            } else {
                seen.iter().cloned().collect::<Vec<_>>().join(", ")
            }
        );
        return Ok(exit::FAILURE);
    }
    if code != exit::OK {
        err!(
            "ballast: the journal is {word}: only the valid prefix (up to seq {last_seq}) was printed; run `ballast journal verify` for details"
        );
    } else if running {
        err!(
            "ballast: the engine is running; the journal is being written: printed up to seq {last_seq}, as it was when read"
        );
    }
    Ok(code)
}
