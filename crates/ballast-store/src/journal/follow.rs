//! Following a journal another process writes, read-only: the records after a seq, in order,
//! a bounded number at a time. The engine follows `journal/signals/` (the API writes it); a
//! reader follows a journal to build its views. Only complete, valid records of the expected
//! seq are given: a line still being written (no newline yet) waits for the next read; a
//! record that is not valid, or a seq that does not follow, is an error that names it (the
//! writer repairs its own journal when it opens it — the follower never changes anything).

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::bounded::open_regular;
use crate::record;
use crate::storage::RealStorage;

/// Bytes read from a segment at once, at most (a record is at most `[journal]
/// max_record_bytes`; a longer one is read with a larger chunk).
const CHUNK_BYTES: u64 = 1 << 20;

/// One record, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Followed {
    pub seq: u64,
    pub kind: String,
    pub body: String,
}

/// Where following stands in one journal directory.
#[derive(Debug, Clone)]
pub struct Follower {
    dir: PathBuf,
    /// The segment being read (file name, first seq) and the offset of the next line in it.
    at: Option<(String, u64)>,
    offset: u64,
    /// The seq of the next record to give.
    next: u64,
    /// Largest record line accepted (the writer's `max_record_bytes`).
    max_record_bytes: u64,
}

impl Follower {
    /// Follow `dir` from the record after `after`.
    pub fn new(dir: impl Into<PathBuf>, after: u64, max_record_bytes: u64) -> Follower {
        Follower {
            dir: dir.into(),
            at: None,
            offset: 0,
            next: after + 1,
            max_record_bytes: max_record_bytes.max(1024),
        }
    }

    /// The seq of the next record [`Self::read`] gives.
    pub fn next_seq(&self) -> u64 {
        self.next
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Up to `max` records after the last one given (fewer: that is all there is now).
    pub fn read(&mut self, max: usize) -> Result<Vec<Followed>, String> {
        let mut out = Vec::new();
        while out.len() < max {
            if self.at.is_none() && !self.find_segment()? {
                break;
            }
            let (before, offset) = (out.len(), self.offset);
            let eof = self.read_segment(max, &mut out)?;
            if out.len() == before && self.offset == offset {
                if !eof {
                    return Err(format!(
                        "{}: a record longer than {} bytes (max_record_bytes) at byte {offset}",
                        self.dir.display(),
                        self.max_record_bytes
                    ));
                }
                if !self.next_segment()? {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// The segments of the directory, sorted by first seq.
    fn segments(&self) -> Result<Vec<(String, u64)>, String> {
        match super::scan::list_segments(&RealStorage, &self.dir) {
            Ok((segs, _)) => Ok(segs),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Position on the segment holding `next` (the last one starting at or before it).
    fn find_segment(&mut self) -> Result<bool, String> {
        let segs = self.segments()?;
        let Some(seg) = segs.iter().rev().find(|(_, first)| *first <= self.next) else {
            return Ok(false);
        };
        self.at = Some(seg.clone());
        self.offset = 0;
        Ok(true)
    }

    /// Move to the segment that starts at `next`, if the writer rolled over to it.
    fn next_segment(&mut self) -> Result<bool, String> {
        let segs = self.segments()?;
        match segs.into_iter().find(|(_, first)| *first == self.next) {
            Some(seg) if self.at.as_ref() != Some(&seg) => {
                self.at = Some(seg);
                self.offset = 0;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Records of the current segment into `out`; whether its end was reached.
    fn read_segment(&mut self, max: usize, out: &mut Vec<Followed>) -> Result<bool, String> {
        let Some((name, _)) = &self.at else {
            return Ok(true);
        };
        let path = self.dir.join(name);
        let chunk = CHUNK_BYTES.max(self.max_record_bytes);
        let mut buf = Vec::new();
        let mut f =
            open_regular(&path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        f.seek(SeekFrom::Start(self.offset))
            .and_then(|_| f.take(chunk).read_to_end(&mut buf))
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let mut pos = 0usize;
        while out.len() < max {
            let Some(nl) = buf[pos..].iter().position(|b| *b == b'\n') else {
                break;
            };
            let line = &buf[pos..pos + nl];
            let at = self.offset + pos as u64;
            let rec = record::decode(line).map_err(|e| {
                let e = match e {
                    record::LineError::Corrupt(why) => why,
                    record::LineError::NewerSchema { found } => {
                        format!("format version {found}, newer than this build's")
                    }
                };
                format!(
                    "{} at byte {at}: not a valid record ({e}); the journal's writer repairs it when it opens it",
                    path.display()
                )
            })?;
            pos += nl + 1;
            if rec.seq < self.next {
                continue;
            }
            if rec.seq > self.next {
                return Err(format!(
                    "{} at byte {at}: record {} where {} was expected (a gap in the journal)",
                    path.display(),
                    rec.seq,
                    self.next
                ));
            }
            out.push(Followed {
                seq: rec.seq,
                kind: rec.kind.into_owned(),
                body: rec.body.get().to_owned(),
            });
            self.next += 1;
        }
        self.offset += pos as u64;
        // The end: nothing more complete in this chunk and the chunk was not full.
        Ok(out.len() < max && (buf.len() as u64) < chunk && !buf[pos..].contains(&b'\n'))
    }
}
