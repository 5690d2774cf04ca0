//! The inbox reader: the complete lines appended to `inbox/signals.jsonl` since the last
//! time (the offset is part of the engine state, journaled with each line). Every read is
//! bounded — [`CHUNK_BYTES`] of lines per loop, [`LONG_LINE_BYTES_PER_LOOP`] of an over-long
//! line — and a bad line never blocks the lines after it:
//!
//! - a line that does not parse is rejected and appended to the day's quarantine file;
//! - a line longer than [`MAX_LINE_BYTES`] whose end is not in sight is rejected at once
//!   (`open`), and its bytes are streamed to its quarantine entry as they are read
//!   (`continued` records), never held whole in memory;
//! - a line still being written (no newline yet, under the bound) waits for the next loop.
//!
//! Bad lines go to one append-only file per inbox file and UTC day,
//! `quarantine/inbox/signals.jsonl.corrupt.<YYYYMMDD>`, one entry per line: its number, a
//! tab, its bytes, a newline. The file holds at most `[engine] inbox_quarantine_max_bytes`;
//! a line that no longer fits is dropped from it (`dropped`, counted in the engine's
//! `inbox_quarantine_dropped` and logged), never silently. A crash between a quarantine write
//! and its record writes the entry again at the restart: an entry may repeat, none is lost.

use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use ballast_core::config::Config;
use ballast_core::engine::{EngineState, InboxOutcome, InboxRecord};
use ballast_core::inbox::MAX_LINE_BYTES;
use ballast_core::time::Timestamp;
use ballast_store::storage::StorageFile;
use ballast_store::{Layout, Storage};

use crate::runtime::{EngineError, Writer};

pub use crate::limits::{
    INBOX_CHUNK_BYTES as CHUNK_BYTES, INBOX_LONG_LINE_BYTES_PER_LOOP as LONG_LINE_BYTES_PER_LOOP,
};
use crate::limits::{
    INBOX_REJECTIONS_LOGGED_EACH as REJECTIONS_LOGGED_EACH,
    INBOX_REJECTIONS_LOGGED_EVERY as REJECTIONS_LOGGED_EVERY,
};

/// Whether the engine said once that the inbox is not a regular file.
static NOT_REGULAR_SAID: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Rejected lines logged so far (one by one, then one in [`REJECTIONS_LOGGED_EVERY`]).
static REJECTIONS_LOGGED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Consume what was appended to the inbox since the last loop; `now` names the day's
/// quarantine file.
pub(crate) fn read_inbox(
    state: &mut EngineState,
    config: &Config,
    w: &mut Writer<'_>,
    now: Timestamp,
    log: &mut dyn FnMut(&str),
) -> Result<(), EngineError> {
    let layout = w.layout;
    let path = layout.inbox().join("signals.jsonl");
    // A link to a regular file is read (nothing is written through it); a FIFO or a device
    // is never opened (it would block the loop or never end).
    let Ok(meta) = std::fs::metadata(&path) else {
        return Ok(());
    };
    if !meta.is_file() {
        if !NOT_REGULAR_SAID.swap(true, std::sync::atomic::Ordering::Relaxed) {
            log(
                "warning: inbox/signals.jsonl is not a regular file (a FIFO, a device or a directory): it is not read; make it a file that producers append lines to",
            );
        }
        return Ok(());
    }
    use std::os::unix::fs::MetadataExt;
    let file = Some(meta.ino());
    let previous_offset = state.decisions.inbox_offset;
    let restart = if state.decisions.inbox_file.is_none() {
        // The first sight of an inbox file (or a journal of a version that did not record
        // which): adopted where reading stands, unless it is shorter.
        (meta.len() < previous_offset).then_some("is shorter than what was read: it was truncated")
    } else if state.decisions.inbox_file != file {
        Some("is another file than the one read so far (renamed and replaced: rotated)")
    } else if meta.len() < previous_offset {
        Some("is shorter than what was read: it was truncated")
    } else if previous_offset > 0
        && state.decisions.inbox_long_line.is_none()
        && !ends_a_line_at(&path, previous_offset)
    {
        // Truncated and written again past the old offset (logrotate's copytruncate): what
        // was read ended at a newline, so a byte there that is not one is another content.
        Some("was truncated and written again (what was read no longer ends at a line's end)")
    } else {
        None
    };
    if restart.is_some() || state.decisions.inbox_file.is_none() {
        if let Some(why) = restart {
            log(&format!(
                "warning: inbox/signals.jsonl {why} ({} bytes, {previous_offset} read); reading it from the start",
                meta.len()
            ));
        }
        let rec = match restart {
            Some(_) => InboxRecord {
                file,
                offset_after: 0,
                line: 0,
                outcome: InboxOutcome::Reset { previous_offset },
            },
            None => InboxRecord {
                file,
                offset_after: previous_offset,
                line: state.decisions.inbox_lines,
                outcome: InboxOutcome::Opened,
            },
        };
        commit(state, w, rec, log)?;
    }
    if meta.len() == state.decisions.inbox_offset || !state.inbox_has_room() {
        return Ok(());
    }
    let mut quarantine = DayQuarantine::new(
        w.storage,
        layout,
        &path,
        now,
        config.engine.inbox_quarantine_max_bytes,
    );
    let result = match state.decisions.inbox_long_line.is_some() {
        true => skip_long_line(state, w, &path, &mut quarantine, log),
        false => read_lines(state, config, w, &path, &mut quarantine, log),
    };
    if let Err(e) = quarantine.sync() {
        log(&format!(
            "warning: cannot make {} durable: {e}; the inbox still holds its lines",
            layout.display(&quarantine.path)
        ));
    }
    result
}

/// Whether the byte just before `offset` in `path` is a newline (where every complete line
/// read so far ended).
fn ends_a_line_at(path: &std::path::Path, offset: u64) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = ballast_store::bounded::open_regular(path) else {
        return true;
    };
    let mut byte = [0u8; 1];
    if f.seek(SeekFrom::Start(offset - 1)).is_err() || f.read_exact(&mut byte).is_err() {
        return true; // not readable now: the next loop looks again
    }
    byte[0] == b'\n'
}

fn commit(
    state: &mut EngineState,
    w: &mut Writer<'_>,
    rec: InboxRecord,
    log: &mut dyn FnMut(&str),
) -> Result<(), EngineError> {
    w.commit(state, ballast_core::engine::EngineRecord::Inbox(rec), log)?;
    Ok(())
}

/// Up to [`CHUNK_BYTES`] read from `offset`, or the error logged.
fn read_from(path: &Path, offset: u64, limit: usize, log: &mut dyn FnMut(&str)) -> Option<Vec<u8>> {
    let mut buf = Vec::with_capacity(limit.min(CHUNK_BYTES));
    let read = ballast_store::bounded::open_regular(path)
        .map_err(io::Error::other)
        .and_then(|mut f| {
            f.seek(SeekFrom::Start(offset))?;
            f.take(limit as u64).read_to_end(&mut buf)
        });
    match read {
        Ok(_) => Some(buf),
        Err(e) => {
            log(&format!("warning: cannot read inbox/signals.jsonl: {e}"));
            None
        }
    }
}

/// The complete lines of the next chunk; a line already over the bound without its end in
/// the chunk is rejected as an open over-long line.
fn read_lines(
    state: &mut EngineState,
    config: &Config,
    w: &mut Writer<'_>,
    path: &Path,
    quarantine: &mut DayQuarantine,
    log: &mut dyn FnMut(&str),
) -> Result<(), EngineError> {
    let Some(buf) = read_from(path, state.decisions.inbox_offset, CHUNK_BYTES, log) else {
        return Ok(());
    };
    let mut start = 0usize;
    while let Some(nl) = buf[start..].iter().position(|b| *b == b'\n') {
        if !state.inbox_has_room() {
            return Ok(());
        }
        let raw = &buf[start..start + nl];
        let offset_after = state.decisions.inbox_offset + (nl + 1) as u64;
        let line = state.decisions.inbox_lines + 1;
        start += nl + 1;
        let outcome = match parse(raw, &config.feed.symbols) {
            Ok(signal) => {
                log(&format!(
                    "inbox line {line}: accepted {} {} ({})",
                    signal.ask, signal.symbol, signal.reason
                ));
                InboxOutcome::Accepted { signal }
            }
            Err(error) => reject(state, quarantine, line, raw, true, error, log),
        };
        commit(
            state,
            w,
            InboxRecord {
                file: None,
                offset_after,
                line,
                outcome,
            },
            log,
        )?;
    }
    let rest = &buf[start..];
    if rest.len() > MAX_LINE_BYTES && state.inbox_has_room() {
        let line = state.decisions.inbox_lines + 1;
        let error = format!(
            "the line is longer than {MAX_LINE_BYTES} bytes ({} bytes read, no end of line yet)",
            rest.len()
        );
        let outcome = reject(state, quarantine, line, rest, false, error, log);
        let rec = InboxRecord {
            file: None,
            offset_after: state.decisions.inbox_offset + rest.len() as u64,
            line,
            outcome,
        };
        commit(state, w, rec, log)?;
    }
    Ok(())
}

/// One raw inbox line (without its newline) as the engine reads it: at most
/// [`MAX_LINE_BYTES`], UTF-8, not blank, then [`ballast_core::inbox::parse_line`] against the
/// tradable `symbols`.
pub fn parse(
    raw: &[u8],
    symbols: &[ballast_core::domain::Symbol],
) -> Result<ballast_core::inbox::ExternalSignal, String> {
    if raw.len() > MAX_LINE_BYTES {
        return Err(format!(
            "the line is {} bytes; at most {MAX_LINE_BYTES} are accepted",
            raw.len()
        ));
    }
    let text = std::str::from_utf8(raw).map_err(|_| "the line is not UTF-8".to_owned())?;
    if text.trim().is_empty() {
        return Err("empty line".to_owned());
    }
    ballast_core::inbox::parse_line(text.trim(), symbols)
}

/// Quarantine a rejected line (or the first bytes of an over-long one, `ended = false`),
/// log it, and give its outcome.
fn reject(
    state: &EngineState,
    quarantine: &mut DayQuarantine,
    line: u64,
    raw: &[u8],
    ended: bool,
    error: String,
    log: &mut dyn FnMut(&str),
) -> InboxOutcome {
    let layout = quarantine.layout.clone();
    let (quarantined, dropped) = if raw.iter().all(u8::is_ascii_whitespace) {
        (None, false)
    } else {
        match quarantine.begin(line, raw, ended) {
            Ok(Kept::Whole) => (Some(layout.display(&quarantine.path)), false),
            Ok(Kept::Cut) => (Some(layout.display(&quarantine.path)), true),
            Ok(Kept::Nothing) => (None, true),
            Err(e) => {
                log(&format!(
                    "warning: cannot write {}: {e}; the inbox still holds line {line}",
                    layout.display(&quarantine.path)
                ));
                (None, false)
            }
        }
    };
    let rejected = state.stats.inbox_rejected + 1;
    let kept = match (&quarantined, dropped) {
        (Some(q), false) if ended => format!(" (kept in {q})"),
        (Some(q), false) => {
            format!("; its bytes go to {q} as they are read and the lines after it are processed")
        }
        (_, true) => format!(
            "; {} is full ({} bytes, [engine] inbox_quarantine_max_bytes): the line is not kept whole there ({} lines so far; the inbox still holds it)",
            layout.display(&quarantine.path),
            quarantine.max_bytes,
            state.stats.inbox_quarantine_dropped + 1
        ),
        (None, false) => String::new(),
    };
    // Bounded: the first rejections one by one, then one in a thousand (each is in the journal,
    // `ballast journal dump --type inbox.line`) — a flood of garbage does not flood the log.
    let said = REJECTIONS_LOGGED.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
    if said <= REJECTIONS_LOGGED_EACH || said % REJECTIONS_LOGGED_EVERY == 0 {
        log(&format!(
            "warning: inbox line {line} rejected: {error}{kept} [{rejected} inbox lines rejected]"
        ));
    }
    if said == REJECTIONS_LOGGED_EACH {
        log(&format!(
            "warning: more inbox lines are rejected than the log says one by one: from now on one in {REJECTIONS_LOGGED_EVERY} is logged; every one is in the journal (`ballast journal dump --type inbox.line`) and the bad lines in quarantine/inbox/"
        ));
    }
    InboxOutcome::Rejected {
        error,
        quarantined,
        open: !ended,
        dropped,
    }
}

/// The next bytes of the open over-long line, up to its end of line or
/// [`LONG_LINE_BYTES_PER_LOOP`], streamed to its quarantine entry.
fn skip_long_line(
    state: &mut EngineState,
    w: &mut Writer<'_>,
    path: &Path,
    quarantine: &mut DayQuarantine,
    log: &mut dyn FnMut(&str),
) -> Result<(), EngineError> {
    let Some(long) = state.decisions.inbox_long_line.clone() else {
        return Ok(());
    };
    let line = state.decisions.inbox_lines;
    let mut consumed = 0u64;
    let mut ended = false;
    let mut dropped = false;
    let mut entry = match (&long.quarantined, long.dropped) {
        (Some(q), false) => Some(w.layout.root().join(q)),
        _ => None,
    };
    while consumed < LONG_LINE_BYTES_PER_LOOP && !ended {
        let room = (LONG_LINE_BYTES_PER_LOOP - consumed).min(CHUNK_BYTES as u64) as usize;
        let Some(buf) = read_from(path, state.decisions.inbox_offset + consumed, room, log) else {
            break;
        };
        if buf.is_empty() {
            break;
        }
        let (piece, len) = match buf.iter().position(|b| *b == b'\n') {
            Some(nl) => {
                ended = true;
                (&buf[..nl], nl + 1)
            }
            None => (&buf[..], buf.len()),
        };
        consumed += len as u64;
        if let Some(target) = &entry {
            match quarantine.more(target, piece, ended) {
                Ok(true) => {}
                Ok(false) => {
                    dropped = true;
                    entry = None;
                }
                Err(e) => {
                    log(&format!(
                        "warning: cannot write {}: {e}; the inbox still holds line {line}",
                        w.layout.display(target)
                    ));
                    entry = None;
                }
            }
        }
    }
    if consumed == 0 {
        return Ok(());
    }
    if ended {
        let total = long.bytes + consumed - 1;
        let kept = match (&long.quarantined, long.dropped || dropped) {
            (Some(q), false) => format!("kept whole in {q}"),
            (Some(q), true) => format!(
                "cut in {q}: the quarantine file reached [engine] inbox_quarantine_max_bytes ({} lines not kept whole so far)",
                state.stats.inbox_quarantine_dropped + 1
            ),
            (None, _) => "not kept in quarantine".to_owned(),
        };
        log(&format!(
            "warning: inbox line {line}: the over-long line ended after {total} bytes ({kept}); reading the lines after it"
        ));
    }
    let rec = InboxRecord {
        file: None,
        offset_after: state.decisions.inbox_offset + consumed,
        line,
        outcome: InboxOutcome::Continued {
            bytes: consumed,
            ended,
            dropped,
        },
    };
    commit(state, w, rec, log)
}

/// How much of a line went to quarantine.
enum Kept {
    Whole,
    /// Its entry was ended early: the file reached its bound.
    Cut,
    Nothing,
}

/// The day's quarantine file of one inbox file, opened on first use, appended to, bounded.
struct DayQuarantine<'a> {
    storage: &'a dyn Storage,
    layout: Layout,
    path: PathBuf,
    max_bytes: u64,
    /// The open file and its length.
    file: Option<(PathBuf, Box<dyn StorageFile>, u64)>,
    written: bool,
}

impl<'a> DayQuarantine<'a> {
    fn new(
        storage: &'a dyn Storage,
        layout: &Layout,
        source: &Path,
        now: Timestamp,
        max_bytes: u64,
    ) -> Self {
        let day: String = now
            .to_string()
            .chars()
            .take(10)
            .filter(char::is_ascii_digit)
            .collect();
        let name = source
            .file_name()
            .map_or_else(|| "inbox".into(), |n| n.to_string_lossy().into_owned());
        let dir = layout.quarantine().join("inbox");
        DayQuarantine {
            storage,
            layout: layout.clone(),
            path: dir.join(format!("{name}.corrupt.{day}")),
            max_bytes,
            file: None,
            written: false,
        }
    }

    /// The file `path`, open for appending (created if need be, never through a link), and
    /// its length.
    fn open(&mut self, path: &Path) -> io::Result<&mut (PathBuf, Box<dyn StorageFile>, u64)> {
        if self.file.as_ref().is_none_or(|(p, _, _)| p != path) {
            self.sync()?;
            let dir = path.parent().unwrap_or(Path::new(""));
            self.layout.create_own_dir(dir)?;
            let (f, len) = match self.storage.create_new(path) {
                Ok(f) => (f, 0),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let f = self.storage.open_append(path)?;
                    (f, self.storage.len(path)?)
                }
                Err(e) => return Err(e),
            };
            self.file = Some((path.to_path_buf(), f, len));
        }
        self.file
            .as_mut()
            .ok_or_else(|| io::Error::other("the quarantine file is not open"))
    }

    /// Start the entry of line `line` with `bytes`; `ended`: the line is complete.
    fn begin(&mut self, line: u64, bytes: &[u8], ended: bool) -> io::Result<Kept> {
        let max = self.max_bytes;
        let prefix = format!("{line}\t");
        let path = self.path.clone();
        let (_, f, len) = self.open(&path)?;
        // A complete line is kept whole or not at all; the first bytes of an over-long one
        // need room for the number, one byte and the end of line.
        let need = match ended {
            true => prefix.len() + bytes.len() + 1,
            false => prefix.len() + 2,
        };
        if *len + need as u64 > max {
            return Ok(Kept::Nothing);
        }
        f.write_all(prefix.as_bytes())?;
        *len += prefix.len() as u64;
        self.written = true;
        let kept = self.append(&path, bytes, ended)?;
        Ok(if kept { Kept::Whole } else { Kept::Cut })
    }

    /// More bytes of the open entry in `path`; false: the file is full, the entry was ended.
    fn more(&mut self, path: &Path, bytes: &[u8], ended: bool) -> io::Result<bool> {
        self.append(path, bytes, ended)
    }

    fn append(&mut self, path: &Path, bytes: &[u8], ended: bool) -> io::Result<bool> {
        let max = self.max_bytes;
        let (_, f, len) = self.open(path)?;
        // One byte stays free for the entry's end of line.
        let room = max.saturating_sub(*len + 1);
        let fits = (bytes.len() as u64) <= room;
        let part = &bytes[..bytes.len().min(room as usize)];
        f.write_all(part)?;
        *len += part.len() as u64;
        if ended || !fits {
            f.write_all(b"\n")?;
            *len += 1;
        }
        self.written = true;
        Ok(fits)
    }

    /// Make what was written durable.
    fn sync(&mut self) -> io::Result<()> {
        if let Some((_, f, _)) = &mut self.file {
            if self.written {
                f.sync_data()?;
                self.written = false;
            }
        }
        Ok(())
    }
}
