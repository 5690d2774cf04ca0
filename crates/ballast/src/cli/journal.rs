//! `ballast journal verify|dump`: read-only inspection of the engine journal and snapshots.

use super::out;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use ballast_store::journal::{self, Scan, Verdict};
use ballast_store::record::RecordRef;
use ballast_store::snapshot::{SnapshotStatus, Snapshots};
use ballast_store::{Layout, RealStorage, SystemClock};
use clap::Subcommand;
use serde::Serialize;

use super::DataDirArg;
use crate::exit::{self, Exit};
use crate::settings;

#[derive(Debug, Subcommand)]
pub enum JournalCommand {
    /// Validate every record and snapshot without changing anything.
    ///
    /// Exit status: 0 clean; 1 a problem a heal can fix (torn tail, corrupt snapshot);
    /// 2 dangerous damage (mid-journal corruption, seq gap, newer schema).
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
        } => verify(
            &settings::DataDir::new(data_dir.data_dir.as_deref(), None).path,
            ops,
            json,
        ),
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
                    eprintln!(
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
    journal: &'a Scan,
    snapshots: &'a [SnapshotStatus],
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
    let (scan, snapshots) = inspect(dir, ops, &mut |_| Ok(()))?;
    let (word, code) = status(&scan, &snapshots);
    if json {
        let report = Report {
            data_dir: dir.display().to_string(),
            status: word,
            journal: &scan,
            snapshots: &snapshots,
        };
        out!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(code);
    }
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
    match &scan.verdict {
        Verdict::Clean => out!("  verdict: clean"),
        Verdict::TornTail(t) => out!(
            "  verdict: torn tail in {} at line {} (byte {}, {} bytes, {}): safe to heal.\n  \
             The engine heals it at start (copy to quarantine, truncate); `ballast heal` does it now",
            t.segment,
            t.line,
            t.offset,
            t.bytes,
            t.reason
        ),
        Verdict::Dangerous(d) => out!(
            "  verdict: DANGEROUS: {d}.\n  Nothing was changed. A live engine refuses this journal; a paper engine \
             salvages the valid prefix (the damaged segment goes to quarantine) and reports CRITICAL"
        ),
    }
    out!("snapshots {}", Layout::new(dir).state().display());
    if snapshots.is_empty() {
        out!("  none (recovery replays the whole journal)");
    }
    for s in &snapshots {
        match &s.problem {
            None => out!("  {}  covers seq {}  ok", s.file, s.seq.unwrap_or(0)),
            Some(p) => out!("  {}  {p}: moved to quarantine at the next start", s.file),
        }
    }
    out!("status: {word}");
    Ok(code)
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
        inspect(dir, ops, &mut visit)
    };
    out.flush().ok();
    if let Some(e) = write_err {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return Ok(exit::OK); // `ballast journal dump | head`
        }
        return Err(e.into());
    }
    let (scan, snapshots) = result?;
    // The ops journal's types are open-ended: one that matched nothing is named with those met.
    if let Some(k) = kind.filter(|k| ops && !seen.contains(*k)) {
        eprintln!(
            "ballast journal dump: no record of type {k:?} in this journal\n    help: the types in it are {}",
            if seen.is_empty() {
                "none (it is empty)".to_owned()
            } else {
                seen.iter().cloned().collect::<Vec<_>>().join(", ")
            }
        );
        return Ok(exit::FAILURE);
    }
    let (word, code) = status(&scan, &snapshots);
    if code != exit::OK {
        eprintln!(
            "ballast: the journal is {word}: only the valid prefix (up to seq {}) was printed; run `ballast journal verify` for details",
            scan.last_seq
        );
    }
    Ok(code)
}
