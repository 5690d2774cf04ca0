//! The segmented, append-only, checksummed journal (SPEC §2).
//!
//! - [`scan`] reads and validates without changing anything (`ballast journal verify`).
//! - [`Journal::open`] scans, applies the repair rules, and returns a writer positioned after
//!   the last valid record.
//! - [`Journal::append`] is durable before it returns (`fdatasync`); concurrent appenders are
//!   group-committed: one leader writes and syncs everything queued, the others wait.
//! - A failed write or sync poisons the writer: every later append is refused until the
//!   journal is reopened (never retry an fsync and believe it).

mod error;
pub mod follow;
mod open;
pub mod scan;
pub mod segment;
mod writer;

pub use error::{FailInfo, IoOp, JournalError};
pub use open::{OpenPolicy, OpenReport};
pub use scan::{Damage, Problem, Scan, SegmentInfo, TornTail, Verdict, scan};
pub use writer::{Journal, JournalOptions};

/// The identity of the journal in `dir`: the CRC32C of its first record (hex), which no other
/// journal shares (its time stamp differs) and which never changes (records are only
/// appended), and the directory's own inode — so a copy of the whole data directory (`cp -a`,
/// a restored backup) is another journal too. Files that speak about one data directory's
/// journal — the safety policy file — carry it, so a copy from elsewhere is recognised.
/// `None`: no readable first record yet. Reads at most one record's worth of the first
/// segment.
pub fn identity(dir: &std::path::Path) -> Option<String> {
    use std::io::Read;
    use std::os::unix::fs::MetadataExt;
    let inode = std::fs::metadata(dir).ok()?.ino();
    let mut names: Vec<(u64, String)> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().into_string().ok()?;
            segment::parse(&n).map(|first| (first, n))
        })
        .collect();
    names.sort();
    let (_, first) = names.first()?;
    let f = crate::bounded::open_regular(&dir.join(first)).ok()?;
    let mut buf = Vec::new();
    f.take(crate::bounded::MAX_FILE_BYTES)
        .read_to_end(&mut buf)
        .ok()?;
    let line = &buf[..buf.iter().position(|b| *b == b'\n')?];
    crate::record::decode(line)
        .ok()
        .map(|r| format!("{:08x}-{inode:x}", r.crc()))
}
