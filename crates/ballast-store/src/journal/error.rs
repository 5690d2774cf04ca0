use std::fmt;
use std::io;
use std::path::PathBuf;

use super::scan::{Damage, ScanError};

/// The I/O step that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IoOp {
    Write,
    Sync,
    CreateSegment,
    SyncDir,
}

impl fmt::Display for IoOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IoOp::Write => "write",
            IoOp::Sync => "fdatasync",
            IoOp::CreateSegment => "create segment",
            IoOp::SyncDir => "fsync directory",
        })
    }
}

/// What failed, kept so that every later append can say why it is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailInfo {
    pub op: IoOp,
    pub path: PathBuf,
    pub kind: io::ErrorKind,
    pub errno: Option<i32>,
    pub message: String,
}

impl FailInfo {
    pub fn new(op: IoOp, path: PathBuf, e: &io::Error) -> Self {
        FailInfo {
            op,
            path,
            kind: e.kind(),
            errno: e.raw_os_error(),
            message: e.to_string(),
        }
    }

    /// ENOSPC: resumes once space is back and an operator resumes.
    pub fn is_disk_full(&self) -> bool {
        self.kind == io::ErrorKind::StorageFull || self.errno == Some(28)
    }
}

impl fmt::Display for FailInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} of {} failed: {}",
            self.op,
            self.path.display(),
            self.message
        )
    }
}

/// Journal errors, by class: I/O at open, a failed durable write (the writer is now
/// refusing), dangerous damage, a newer schema, or a bad record from the caller.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("cannot {op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "journal write failed: {0}. The record was NOT acknowledged and the journal refuses all further writes; {hint}",
        hint = if .0.is_disk_full() { "free disk space, then reopen the journal (restart the engine)" } else { "check the disk (dmesg), then reopen the journal (restart the engine)" }
    )]
    WriteFailed(FailInfo),
    #[error(
        "journal {} is damaged at {damage}. Nothing was changed. Run `ballast heal --dry-run` to see the plan; in paper mode the engine can salvage the valid prefix (the damaged segment is copied to quarantine first)",
        dir.display()
    )]
    Dangerous { dir: PathBuf, damage: Damage },
    #[error(
        "journal {} was written by a newer Ballast ({damage}). Upgrade Ballast to read it; nothing was changed",
        dir.display()
    )]
    NewerSchema { dir: PathBuf, damage: Damage },
    #[error(
        "a {kind:?} record is {bytes} bytes; the limit is {max} bytes ([journal] max_record_bytes)"
    )]
    RecordTooLarge {
        kind: String,
        bytes: usize,
        max: u64,
    },
    #[error("invalid event type {0:?}: expected [a-z][a-z0-9_.-]*, at most 64 characters")]
    InvalidKind(String),
    #[error("cannot serialize the body of a {kind:?} record: {source}")]
    Serialize {
        kind: String,
        #[source]
        source: serde_json::Error,
    },
    #[error(transparent)]
    Scan(#[from] ScanError),
}

impl JournalError {
    pub(crate) fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(io::Error) -> JournalError {
        let path = path.into();
        move |source| JournalError::Io { op, path, source }
    }
}
