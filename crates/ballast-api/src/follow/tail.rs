//! Following one journal directory read-only: where reading stands (segment, byte offset,
//! next seq), the pure parse of newly appended bytes into records, and the shell that reads a
//! bounded number of bytes per step. It never writes, never locks, and never assumes: a
//! corrupt record, a seq gap or a segment that shrank or vanished is reported, and the caller
//! starts over from the journal as it then is.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use ballast_core::Timestamp;
use ballast_store::RealStorage;
use ballast_store::journal::scan::list_segments;
use ballast_store::record::{self, LineError};
use serde_json::value::RawValue;

/// Bytes read per step at most: a step's work is bounded however far behind the reader is.
pub const TAIL_READ_MAX_BYTES: usize = 1024 * 1024;

/// A record read from the journal, owned.
#[derive(Debug, Clone)]
pub struct RawRecord {
    pub seq: u64,
    pub ts: Timestamp,
    pub kind: String,
    pub body: Box<RawValue>,
}

/// Why reading stopped before the end of the bytes given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// Every byte was a whole record.
    End,
    /// The bytes end inside a record: an append in progress (or a torn tail).
    Partial,
    /// A whole line that is not the next record: what is wrong, in words.
    Bad(String),
}

/// What [`parse`] found.
#[derive(Debug)]
pub struct Parsed {
    pub records: Vec<RawRecord>,
    /// Bytes of whole records (and of skipped ones) consumed.
    pub consumed: usize,
    pub next_seq: u64,
    pub stop: Stop,
}

/// Parse the whole lines of `buf` as the records from `next_seq` on; records below
/// `skip_below` are consumed without being returned (those a snapshot covers).
pub fn parse(buf: &[u8], mut next_seq: u64, skip_below: u64) -> Parsed {
    let mut out = Parsed {
        records: Vec::new(),
        consumed: 0,
        next_seq,
        stop: Stop::End,
    };
    let mut pos = 0usize;
    while pos < buf.len() {
        let rest = &buf[pos..];
        let Some(nl) = rest.iter().position(|b| *b == b'\n') else {
            out.stop = Stop::Partial;
            break;
        };
        let line = &rest[..nl];
        let rec = match record::decode(line) {
            Ok(r) => r,
            // A bad last line with nothing but zeros after it is a torn tail (or an append
            // being written): wait, as the engine's repair rules would truncate it. With
            // anything after it, it is corruption.
            Err(LineError::Corrupt(_)) if only_zeros(&rest[nl + 1..]) => {
                out.stop = Stop::Partial;
                break;
            }
            Err(LineError::Corrupt(reason)) => {
                out.stop = Stop::Bad(format!("corrupt record ({reason}) with data after it"));
                break;
            }
            Err(LineError::NewerSchema { found }) => {
                out.stop = Stop::Bad(format!(
                    "record format {found} is newer than this build reads; upgrade Ballast"
                ));
                break;
            }
        };
        if rec.seq != next_seq {
            out.stop = Stop::Bad(format!(
                "seq gap: expected seq {next_seq}, found {}",
                rec.seq
            ));
            break;
        }
        if rec.seq >= skip_below {
            out.records.push(RawRecord {
                seq: rec.seq,
                ts: rec.ts,
                kind: rec.kind.into_owned(),
                body: rec.body.to_owned(),
            });
        }
        next_seq += 1;
        pos += nl + 1;
        out.consumed = pos;
    }
    out.next_seq = next_seq;
    out
}

fn only_zeros(b: &[u8]) -> bool {
    b.iter().all(|c| *c == 0)
}

/// What one step of a [`Tail`] saw.
#[derive(Debug)]
pub enum Step {
    /// New records (maybe more to read at once).
    Records(Vec<RawRecord>),
    /// Nothing new; `partial`: the journal ends inside a record.
    Idle { partial: bool },
    /// Reading cannot go on at this place: what is wrong and where.
    Broken(String),
    /// The journal changed under the reader (a segment shrank or vanished: it was repaired or
    /// salvaged): start over.
    Reset(String),
}

/// A reader of one journal directory.
#[derive(Debug)]
pub struct Tail {
    dir: PathBuf,
    /// `(file name, first seq)` of the segment being read.
    segment: Option<(String, u64)>,
    offset: u64,
    next_seq: u64,
    skip_below: u64,
}

impl Tail {
    /// Read `dir` from record `from` on (1: the whole journal).
    pub fn new(dir: &Path, from: u64) -> Tail {
        Tail {
            dir: dir.to_path_buf(),
            segment: None,
            offset: 0,
            next_seq: 1,
            skip_below: from.max(1),
        }
    }

    /// The seq of the next record to read.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Where the reader stands, in words.
    pub fn place(&self) -> String {
        match &self.segment {
            Some((name, _)) => format!(
                "{} byte {} (next seq {})",
                self.dir.join(name).display(),
                self.offset,
                self.next_seq
            ),
            None => format!("{} (next seq {})", self.dir.display(), self.next_seq),
        }
    }

    /// Read what was appended since the last step, at most [`TAIL_READ_MAX_BYTES`].
    pub fn step(&mut self) -> Step {
        match self.try_step() {
            Ok(s) => s,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Step::Reset(format!(
                "{} is gone (the journal was repaired or salvaged)",
                self.place()
            )),
            Err(e) => Step::Broken(format!("cannot read {}: {e}", self.place())),
        }
    }

    fn try_step(&mut self) -> io::Result<Step> {
        let Some((name, _)) = self.segment.clone() else {
            return self.first_segment();
        };
        let path = self.dir.join(&name);
        let mut f = File::open(&path)?;
        let len = f.metadata()?.len();
        if len < self.offset {
            return Ok(Step::Reset(format!(
                "{} is now {len} bytes, shorter than the {} already read (the journal was repaired)",
                path.display(),
                self.offset
            )));
        }
        if len == self.offset {
            return self.next_segment(&name);
        }
        let want = (len - self.offset).min(TAIL_READ_MAX_BYTES as u64);
        f.seek(SeekFrom::Start(self.offset))?;
        let mut buf = Vec::with_capacity(want as usize);
        f.take(want).read_to_end(&mut buf)?;
        let parsed = parse(&buf, self.next_seq, self.skip_below);
        self.offset += parsed.consumed as u64;
        self.next_seq = parsed.next_seq;
        match parsed.stop {
            Stop::Bad(why) if parsed.records.is_empty() => {
                Ok(Step::Broken(format!("{}: {why}", self.place())))
            }
            // Records a snapshot covers were consumed, not returned: read on. (Taken for a
            // record too long, a window of them ending in a part of the next one left a view
            // rebuilt from a snapshot past the first MiB of a segment behind for good.)
            _ if parsed.records.is_empty() && parsed.consumed > 0 => Ok(Step::Records(Vec::new())),
            Stop::Partial if parsed.records.is_empty() && buf.len() == TAIL_READ_MAX_BYTES => {
                Ok(Step::Broken(format!(
                    "{}: a record longer than {TAIL_READ_MAX_BYTES} bytes",
                    self.place()
                )))
            }
            Stop::Partial if parsed.records.is_empty() => Ok(Step::Idle { partial: true }),
            _ if parsed.records.is_empty() => Ok(Step::Idle { partial: false }),
            _ => Ok(Step::Records(parsed.records)),
        }
    }

    fn listing(&self) -> io::Result<Vec<(String, u64)>> {
        list_segments(&RealStorage, &self.dir)
            .map(|(segs, _)| segs)
            .map_err(|e| io::Error::other(e.to_string()))
    }

    /// The segment holding the first record wanted: the last one starting at or before it.
    fn first_segment(&mut self) -> io::Result<Step> {
        let segs = self.listing()?;
        let Some((name, first)) = segs
            .iter()
            .rfind(|(_, first)| *first <= self.skip_below)
            .or(segs.first())
            .cloned()
        else {
            return Ok(Step::Idle { partial: false });
        };
        self.next_seq = first;
        self.segment = Some((name, first));
        self.offset = 0;
        Ok(Step::Records(Vec::new()))
    }

    /// At the end of `current`: move on once the next segment exists.
    fn next_segment(&mut self, current: &str) -> io::Result<Step> {
        let segs = self.listing()?;
        if !segs.iter().any(|(n, _)| n == current) {
            return Err(io::Error::from(io::ErrorKind::NotFound));
        }
        let later = segs
            .iter()
            .skip_while(|(n, _)| n != current)
            .nth(1)
            .cloned();
        match later {
            None => Ok(Step::Idle { partial: false }),
            Some((name, first)) if first == self.next_seq => {
                self.segment = Some((name, first));
                self.offset = 0;
                Ok(Step::Records(Vec::new()))
            }
            Some((name, first)) => Ok(Step::Broken(format!(
                "{}: the next segment {name} starts at seq {first}, not at {}",
                self.place(),
                self.next_seq
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(seq: u64) -> Vec<u8> {
        let mut out = Vec::new();
        record::encode(&mut out, seq, Timestamp::EPOCH, "test.x", b"{\"n\":1}");
        out
    }

    #[test]
    fn whole_lines_are_records_and_a_partial_one_waits() {
        let mut buf = [line(1), line(2)].concat();
        let third = line(3);
        buf.extend_from_slice(&third[..10]);
        let p = parse(&buf, 1, 1);
        assert_eq!(p.records.len(), 2);
        assert_eq!(p.next_seq, 3);
        assert_eq!(p.stop, Stop::Partial);
        assert_eq!(p.consumed, buf.len() - 10);
    }

    #[test]
    fn records_a_snapshot_covers_are_consumed_not_returned() {
        let buf = [line(1), line(2), line(3)].concat();
        let p = parse(&buf, 1, 3);
        assert_eq!(p.records.iter().map(|r| r.seq).collect::<Vec<_>>(), [3]);
        assert_eq!((p.consumed, p.stop), (buf.len(), Stop::End));
    }

    #[test]
    fn a_read_window_of_records_a_snapshot_covers_is_not_a_record_too_long() {
        // Found by the kill -9 soak: a view rebuilt from a snapshot past the first MiB of a
        // segment said "a record longer than 1048576 bytes" and stayed behind.
        let tmp = tempfile::tempdir().unwrap();
        let mut seg = Vec::new();
        let mut seq = 0;
        while seg.len() < 2 * TAIL_READ_MAX_BYTES {
            seq += 1;
            seg.extend_from_slice(&line(seq));
        }
        std::fs::write(
            tmp.path().join(ballast_store::journal::segment::name(1)),
            &seg,
        )
        .unwrap();
        let mut tail = Tail::new(tmp.path(), seq);
        let mut got = Vec::new();
        for _ in 0..100 {
            match tail.step() {
                Step::Records(r) => got.extend(r.into_iter().map(|r| r.seq)),
                Step::Broken(why) => panic!("{why}"),
                _ => break,
            }
        }
        assert_eq!(got, [seq]);
    }

    #[test]
    fn a_corrupt_line_or_a_gap_stops_with_the_reason() {
        let mut bad = line(2);
        bad[12] ^= 1;
        // Last: a torn tail (the engine truncates it); with a record after it: corruption.
        let p = parse(&[line(1), bad.clone()].concat(), 1, 1);
        assert_eq!((p.records.len(), p.stop), (1, Stop::Partial));
        let p = parse(&[line(1), bad, line(3)].concat(), 1, 1);
        assert_eq!(p.records.len(), 1);
        assert!(matches!(&p.stop, Stop::Bad(w) if w.starts_with("corrupt record")));
        let p = parse(&[line(1), line(3)].concat(), 1, 1);
        assert_eq!(p.stop, Stop::Bad("seq gap: expected seq 2, found 3".into()));
    }
}
