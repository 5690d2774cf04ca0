//! Opening a journal: scan, apply the repair rules, position the writer.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ballast_core::Clock;
use serde::Serialize;

use super::error::JournalError;
use super::scan::{self, Damage, Problem, Scan, TornTail, Verdict, Visitor};
use super::segment;
use super::writer::{Journal, JournalOptions, Tail};
use crate::layout::Layout;
use crate::quarantine::{Heal, Quarantine};
use crate::storage::Storage;

/// What to do with dangerous damage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenPolicy {
    /// Refuse to open (live mode, and the default).
    RefuseDangerous,
    /// Paper mode: copy the damaged segment to quarantine, keep the valid prefix, move later
    /// segments aside, continue in a new segment, and report it (DEGRADED + CRITICAL alert).
    SalvageDangerous,
}

/// What opening found and did.
#[derive(Debug, Clone, Serialize)]
pub struct OpenReport {
    pub scan: Scan,
    /// Heals applied (torn tail truncated, salvage).
    pub heals: Vec<Heal>,
    /// Dangerous damage that was salvaged around (paper mode only).
    pub salvaged: Option<Damage>,
}

struct Ctx<'a> {
    storage: &'a dyn Storage,
    layout: &'a Layout,
    clock: &'a dyn Clock,
    dir: &'a Path,
}

impl Ctx<'_> {
    fn quarantine(&self) -> Quarantine<'_> {
        Quarantine {
            storage: self.storage,
            layout: self.layout,
            clock: self.clock,
        }
    }

    fn truncate(&self, path: &Path, len: u64) -> Result<(), JournalError> {
        let mut f = self
            .storage
            .open_append(path)
            .map_err(JournalError::io("open", path))?;
        f.set_len(len).map_err(JournalError::io("truncate", path))?;
        f.sync_data().map_err(JournalError::io("fdatasync", path))
    }

    fn copy_aside(&self, path: &Path) -> Result<PathBuf, JournalError> {
        self.quarantine()
            .copy(path)
            .map_err(JournalError::io("copy to quarantine", path))
    }

    fn move_aside(&self, path: &Path) -> Result<PathBuf, JournalError> {
        self.quarantine()
            .move_aside(path)
            .map_err(JournalError::io("move to quarantine", path))
    }

    fn heal(&self, action: String, path: &Path, q: &Path, before: String, after: String) -> Heal {
        Heal {
            component: "journal".into(),
            action,
            path: self.layout.display(path),
            quarantined: Some(self.layout.display(q)),
            before,
            after,
        }
    }
}

impl Journal {
    /// Open the journal in `dir` (created if missing), calling `visit` for every valid record
    /// in order, then apply the repair rules and return a writer after the last valid record.
    pub fn open(
        storage: Arc<dyn Storage>,
        layout: &Layout,
        dir: &Path,
        clock: Arc<dyn Clock>,
        opts: JournalOptions,
        policy: OpenPolicy,
        visit: &mut Visitor<'_>,
    ) -> Result<(Journal, OpenReport), JournalError> {
        storage
            .create_dir_all(dir)
            .map_err(JournalError::io("create directory", dir))?;
        let scan = scan::scan(&*storage, dir, visit)?;
        let ctx = Ctx {
            storage: &*storage,
            layout,
            clock: &*clock,
            dir,
        };
        let mut heals = Vec::new();
        let mut salvaged = None;
        // (segment to append to, its length) — or None to start a new segment.
        let mut tail_at: Option<(String, u64)> =
            scan.segments.last().map(|s| (s.name.clone(), s.bytes));
        match &scan.verdict {
            Verdict::Clean => {}
            Verdict::TornTail(t) => {
                repair_torn_tail(&ctx, t, scan.last_seq, &mut heals)?;
                tail_at = Some((t.segment.clone(), t.offset));
            }
            Verdict::Dangerous(d) => {
                if let Problem::NewerSchema { .. } = d.problem {
                    return Err(JournalError::NewerSchema {
                        dir: dir.to_path_buf(),
                        damage: d.clone(),
                    });
                }
                if policy == OpenPolicy::RefuseDangerous {
                    return Err(JournalError::Dangerous {
                        dir: dir.to_path_buf(),
                        damage: d.clone(),
                    });
                }
                salvage(&ctx, &scan, d, &mut heals)?;
                salvaged = Some(d.clone());
                tail_at = None;
            }
        }
        let tail = open_tail(&*storage, dir, tail_at, scan.last_seq)?;
        let journal = Journal::start(
            Arc::clone(&storage),
            dir.to_path_buf(),
            clock,
            opts,
            scan.last_seq,
            scan.last_crc,
            tail,
        );
        Ok((
            journal,
            OpenReport {
                scan,
                heals,
                salvaged,
            },
        ))
    }
}
/// Cut a torn tail after a copy to quarantine, and move aside the empty segments after it.
fn repair_torn_tail(
    ctx: &Ctx<'_>,
    t: &TornTail,
    last_seq: u64,
    heals: &mut Vec<Heal>,
) -> Result<(), JournalError> {
    let dir = ctx.dir;
    let path = dir.join(&t.segment);
    let q = ctx.copy_aside(&path)?;
    ctx.truncate(&path, t.offset)?;
    heals.push(ctx.heal(
        format!(
            "truncated torn tail at line {} ({}): {} bytes dropped",
            t.line, t.reason, t.bytes
        ),
        &path,
        &q,
        format!("{} bytes", t.offset + t.bytes),
        format!("{} bytes, last seq {}", t.offset, last_seq),
    ));
    for empty in &t.empty_segments_after {
        let p = dir.join(empty);
        let q = ctx.move_aside(&p)?;
        heals.push(ctx.heal(
            "moved aside an empty segment after the torn tail".into(),
            &p,
            &q,
            "empty segment".into(),
            "removed from the journal".into(),
        ));
    }
    Ok(())
}

/// The segment the writer appends to: the last one at its kept length, an empty one a salvage
/// left right after the valid prefix, or a new one (made durable in its directory).
fn open_tail(
    storage: &dyn Storage,
    dir: &Path,
    tail_at: Option<(String, u64)>,
    last_seq: u64,
) -> Result<Tail, JournalError> {
    Ok(match tail_at {
        Some((name, bytes)) => {
            let path = dir.join(name);
            let file = storage
                .open_append(&path)
                .map_err(JournalError::io("open", &path))?;
            Tail { file, path, bytes }
        }
        None if storage.exists(&dir.join(segment::name(last_seq + 1))) => {
            // Salvage left an empty segment that starts exactly after the valid prefix
            // (a segment with records there would hold valid records past the prefix).
            let path = dir.join(segment::name(last_seq + 1));
            let file = storage
                .open_append(&path)
                .map_err(JournalError::io("open", &path))?;
            Tail {
                file,
                path,
                bytes: 0,
            }
        }
        None => {
            let path = dir.join(segment::name(last_seq + 1));
            let file = storage
                .create_new(&path)
                .map_err(JournalError::io("create", &path))?;
            storage
                .sync_dir(dir)
                .map_err(JournalError::io("fsync directory", dir))?;
            Tail {
                file,
                path,
                bytes: 0,
            }
        }
    })
}

/// Paper-mode salvage: keep the valid prefix, quarantine everything from the damage on.
fn salvage(
    ctx: &Ctx<'_>,
    scan: &Scan,
    d: &Damage,
    heals: &mut Vec<Heal>,
) -> Result<(), JournalError> {
    let (all, _) = scan::list_segments(ctx.storage, ctx.dir)?;
    let damaged_first = all
        .iter()
        .position(|(n, _)| *n == d.segment)
        .unwrap_or(all.len());
    for (i, (name, _)) in all.iter().enumerate().skip(damaged_first) {
        let path = ctx.dir.join(name);
        if i == damaged_first && d.offset > 0 {
            let q = ctx.copy_aside(&path)?;
            ctx.truncate(&path, d.offset)?;
            heals.push(ctx.heal(
                format!("salvaged the valid prefix before {d}"),
                &path,
                &q,
                "damaged segment".into(),
                format!(
                    "valid prefix of {} bytes, last seq {}",
                    d.offset, scan.last_seq
                ),
            ));
        } else {
            let q = ctx.move_aside(&path)?;
            heals.push(ctx.heal(
                format!("moved aside a segment at or after the damage ({d})"),
                &path,
                &q,
                "segment after the damage".into(),
                "removed from the journal; content in quarantine".into(),
            ));
        }
    }
    Ok(())
}
