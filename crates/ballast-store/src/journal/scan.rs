//! Reading a journal directory: validate every record, find the first problem and classify it
//! with the repair rules of SPEC §2 (as etcd's WAL repair):
//!
//! - a bad or partial record followed only by end-of-file or zero bytes, in the last segment
//!   that holds data, is a **torn tail**: safe to truncate (after a copy to quarantine);
//! - a bad record with anything valid after it, a `seq` gap, or a segment that does not start
//!   where the previous one ended is **dangerous**: never guessed at;
//! - a valid record of a newer format than this build is a **schema** problem: refused.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::segment;
use crate::bounded::ReadError;
use crate::limits::SEGMENT_MAX_BYTES;
use crate::record::{self, LineError, RecordRef, SCHEMA_VERSION};
use crate::storage::Storage;

/// One segment file as found on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SegmentInfo {
    pub name: String,
    pub first_seq: u64,
    /// Valid records read from it.
    pub records: u64,
    pub bytes: u64,
}

/// What is wrong at a place in the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Problem {
    /// The bytes are not a valid record (bad checksum, framing or content).
    Corrupt { reason: String },
    /// The next record (or segment) does not carry the expected `seq`.
    SeqGap { expected: u64, found: u64 },
    /// A valid record of a newer format than this build reads.
    NewerSchema { found: u32, supported: u32 },
    /// The checksum is right but the body does not parse as its record type.
    BadBody { reason: String },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Corrupt { reason } => write!(f, "corrupt record ({reason})"),
            Problem::SeqGap { expected, found } => {
                write!(f, "seq gap: expected seq {expected}, found {found}")
            }
            Problem::NewerSchema { found, supported } => write!(
                f,
                "record format {found} is newer than this build reads ({supported})"
            ),
            Problem::BadBody { reason } => {
                write!(f, "checksum ok but the body does not parse ({reason})")
            }
        }
    }
}

/// A dangerous problem and where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Damage {
    pub segment: String,
    /// Byte offset of the bad record in the segment.
    pub offset: u64,
    /// 1-based line number in the segment (0 for a problem with the segment itself).
    pub line: u64,
    pub problem: Problem,
    /// Whether valid records follow the problem (what makes corruption dangerous).
    pub valid_records_after: bool,
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.segment, self.problem)
        } else {
            write!(
                f,
                "{} line {} (byte {}): {}",
                self.segment, self.line, self.offset, self.problem
            )?;
            if self.valid_records_after {
                write!(f, ", with valid records after it")?;
            }
            Ok(())
        }
    }
}

/// A torn tail: the partial last write of a crash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TornTail {
    pub segment: String,
    /// Where the valid data ends (the truncation point).
    pub offset: u64,
    /// Bytes after `offset`.
    pub bytes: u64,
    pub line: u64,
    pub reason: String,
    /// Empty segments after the torn one (they would start at the wrong seq).
    pub empty_segments_after: Vec<String>,
}

/// The repair verdict of a scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    Clean,
    TornTail(TornTail),
    Dangerous(Damage),
}

/// The result of reading a journal directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Scan {
    pub dir: PathBuf,
    pub segments: Vec<SegmentInfo>,
    /// Valid records before the first problem.
    pub records: u64,
    /// Seq of the last valid record (0 if none).
    pub last_seq: u64,
    /// CRC32C of the last valid record (what a snapshot taken at `last_seq` binds to).
    pub last_crc: Option<u32>,
    pub verdict: Verdict,
    /// Files in the directory that are not segments (left alone).
    pub other_files: Vec<String>,
}

/// Why a scan could not complete.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("cannot {op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("replaying {segment} line {line} (seq {seq}): {message}")]
    Visit {
        segment: String,
        line: u64,
        seq: u64,
        message: String,
    },
}

/// A visitor of valid records, in `seq` order.
pub type Visitor<'v> = dyn FnMut(&RecordRef<'_>) -> Result<(), String> + 'v;

/// `(file name, first seq)` of each segment, and the names of the other files.
pub type Listing = (Vec<(String, u64)>, Vec<String>);

/// The segments of `dir`, sorted by first seq, and the other files.
pub fn list_segments(storage: &dyn Storage, dir: &Path) -> Result<Listing, ScanError> {
    let names = match storage.list(dir) {
        Ok(n) => n,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(source) => {
            return Err(ScanError::Io {
                op: "list",
                path: dir.to_path_buf(),
                source,
            });
        }
    };
    let mut segs = Vec::new();
    let mut other = Vec::new();
    for n in names {
        match segment::parse(&n) {
            Some(first) => segs.push((n, first)),
            None => other.push(n),
        }
    }
    segs.sort_by_key(|(_, first)| *first);
    Ok((segs, other))
}

/// A segment's bytes, at most [`SEGMENT_MAX_BYTES`] (a larger file is no segment Ballast wrote
/// and is never read whole: the error names it, its size and the bound).
fn read_segment(storage: &dyn Storage, path: &Path) -> Result<Vec<u8>, ScanError> {
    let io = |source| ScanError::Io {
        op: "read",
        path: path.to_path_buf(),
        source,
    };
    storage.read_bounded(path, SEGMENT_MAX_BYTES).map_err(|e| match e {
        ReadError::NotFound { .. } => io(io::Error::new(io::ErrorKind::NotFound, e.to_string())),
        ReadError::Io { source, .. } => io(source),
        other => io(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{other}; a journal segment is never that large — move the file out of the journal directory (keep it for inspection)"
            ),
        )),
    })
}

/// Is `rest` (from a bad record to the end of its segment) a torn tail: one partial line
/// followed only by zero bytes?
fn is_torn_tail(rest: &[u8]) -> bool {
    let end = rest.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
    let body = &rest[..end];
    match body.iter().position(|b| *b == b'\n') {
        None => true,
        Some(i) => i + 1 == body.len(),
    }
}

/// A check of a valid record's body (does it parse as its type?).
pub type Check<'c> = dyn Fn(&RecordRef<'_>) -> Result<(), String> + 'c;

/// Read and validate every segment of `dir`, calling `visit` for each valid record of the
/// valid prefix. Never changes anything.
pub fn scan(storage: &dyn Storage, dir: &Path, visit: &mut Visitor<'_>) -> Result<Scan, ScanError> {
    scan_checked(storage, dir, &|_| Ok(()), visit)
}

/// As [`scan`], and a record whose body fails `check` is a problem at its place
/// ([`Problem::BadBody`], dangerous), as the engine's replay would refuse it.
pub fn scan_checked(
    storage: &dyn Storage,
    dir: &Path,
    check: &Check<'_>,
    visit: &mut Visitor<'_>,
) -> Result<Scan, ScanError> {
    let (segs, other_files) = list_segments(storage, dir)?;
    let mut out = Scan {
        dir: dir.to_path_buf(),
        segments: Vec::new(),
        records: 0,
        last_seq: 0,
        last_crc: None,
        verdict: Verdict::Clean,
        other_files,
    };
    let mut expected = 1u64;
    for (idx, (name, first)) in segs.iter().enumerate() {
        let path = dir.join(name);
        let buf = read_segment(storage, &path)?;
        let mut info = SegmentInfo {
            name: name.clone(),
            first_seq: *first,
            records: 0,
            bytes: buf.len() as u64,
        };
        if *first != expected {
            out.verdict = Verdict::Dangerous(Damage {
                segment: name.clone(),
                offset: 0,
                line: 0,
                problem: Problem::SeqGap {
                    expected,
                    found: *first,
                },
                valid_records_after: !buf.is_empty(),
            });
            out.segments.push(info);
            return Ok(out);
        }
        let mut pos = 0usize;
        let mut line_no = 0u64;
        while pos < buf.len() {
            line_no += 1;
            let rest = &buf[pos..];
            let (line, terminated) = match rest.iter().position(|b| *b == b'\n') {
                Some(i) => (&rest[..i], true),
                None => (rest, false),
            };
            let problem = match record::decode(line) {
                Ok(rec) if rec.seq == expected && terminated && check(&rec).is_err() => {
                    Problem::BadBody {
                        reason: check(&rec).err().unwrap_or_default(),
                    }
                }
                Ok(rec) if rec.seq == expected && terminated => {
                    visit(&rec).map_err(|message| ScanError::Visit {
                        segment: name.clone(),
                        line: line_no,
                        seq: rec.seq,
                        message,
                    })?;
                    expected += 1;
                    info.records += 1;
                    out.records += 1;
                    out.last_seq = rec.seq;
                    out.last_crc = Some(rec.crc());
                    pos += line.len() + 1;
                    continue;
                }
                Ok(rec) if rec.seq != expected => Problem::SeqGap {
                    expected,
                    found: rec.seq,
                },
                Ok(_) => Problem::Corrupt {
                    reason: "record not terminated by a newline".into(),
                },
                Err(LineError::NewerSchema { found }) => Problem::NewerSchema {
                    found,
                    supported: SCHEMA_VERSION,
                },
                Err(LineError::Corrupt(reason)) => Problem::Corrupt { reason },
            };
            out.verdict = classify(
                storage,
                dir,
                &segs[idx + 1..],
                name,
                pos,
                line_no,
                rest,
                problem,
            )?;
            out.segments.push(info);
            return Ok(out);
        }
        out.segments.push(info);
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn classify(
    storage: &dyn Storage,
    dir: &Path,
    later: &[(String, u64)],
    segment: &str,
    pos: usize,
    line: u64,
    rest: &[u8],
    problem: Problem,
) -> Result<Verdict, ScanError> {
    let mut later_data = false;
    let mut empty_after = Vec::new();
    for (name, _) in later {
        let path = dir.join(name);
        let data = read_segment(storage, &path)?;
        if data.is_empty() {
            empty_after.push(name.clone());
        } else {
            later_data = true;
        }
    }
    let damage = |valid_records_after| Damage {
        segment: segment.to_owned(),
        offset: pos as u64,
        line,
        problem: problem.clone(),
        valid_records_after,
    };
    if let Problem::Corrupt { reason } = &problem {
        if !later_data && is_torn_tail(rest) {
            return Ok(Verdict::TornTail(TornTail {
                segment: segment.to_owned(),
                offset: pos as u64,
                bytes: rest.len() as u64,
                line,
                reason: reason.clone(),
                empty_segments_after: empty_after,
            }));
        }
    }
    Ok(Verdict::Dangerous(damage(
        later_data || !is_torn_tail(rest),
    )))
}

#[cfg(test)]
mod tests {
    use super::is_torn_tail;

    #[test]
    fn torn_tail_shapes() {
        assert!(is_torn_tail(b"{\"v\":1,\"se"));
        assert!(is_torn_tail(b"{\"v\":1,\"se\n"));
        assert!(is_torn_tail(b"{\"v\":1,\"se\0\0\0\0"));
        assert!(is_torn_tail(b"\0\0\0\0"));
        assert!(!is_torn_tail(b"garbage\n{\"v\":1}\n"));
        assert!(!is_torn_tail(b"garbage\n\0\0x"));
    }
}
