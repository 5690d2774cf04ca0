//! Reading OHLCV CSV (plain or gzipped) into bars, in time order. The parsing itself is
//! `ballast_core::market::csv`; this file does the I/O. The bundled real data is compiled into
//! the binary, so a fresh build replays it with no file at hand.
//!
//! A plain file is read and parsed on all cores at once: each thread reads its own byte range
//! with positioned reads and parses the lines that start in it. The parts stay separate when
//! they are already in time order (the usual case for one symbol's bars), so a million bars are
//! never copied into one buffer; otherwise they are merged and sorted. Line numbers in errors
//! are the file's: each part counts its lines and the numbers are fixed up after the join.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::Path;

use ballast_core::domain::Symbol;
use ballast_core::market::{Bar, csv};

/// `data/stocks-daily-2000-2013.csv.gz` (public domain; provenance in `data/README.md`).
pub const BUNDLED: &[u8] = include_bytes!("../../../../data/stocks-daily-2000-2013.csv.gz");
/// How the bundled data is named in messages.
pub const BUNDLED_NAME: &str = "bundled:stocks-daily-2000-2013.csv.gz";

/// Bars in time order (then symbol), held as consecutive parts.
#[derive(Debug, Default)]
pub struct Bars {
    parts: Vec<Vec<Bar>>,
}

impl Bars {
    pub fn len(&self) -> usize {
        self.parts.iter().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.parts.iter().all(Vec::is_empty)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Bar> {
        self.parts.iter().flatten()
    }

    pub fn first(&self) -> Option<&Bar> {
        self.parts.iter().find_map(|p| p.first())
    }

    pub fn last(&self) -> Option<&Bar> {
        self.parts.iter().rev().find_map(|p| p.last())
    }

    /// One vector (copies unless there is a single part).
    pub fn into_vec(mut self) -> Vec<Bar> {
        if self.parts.len() == 1 {
            return self.parts.pop().unwrap_or_default();
        }
        let mut all = Vec::with_capacity(self.len());
        for p in self.parts {
            all.extend(p);
        }
        all
    }

    /// From parts in file order: kept as they are if already in time order, else merged and
    /// sorted by time, then symbol (stable: equal keys keep their file order).
    fn from_parts(parts: Vec<Vec<Bar>>) -> Self {
        let key = |b: &Bar| (b.ts, b.symbol);
        let mut prev: Option<&Bar> = None;
        let mut sorted = true;
        for b in parts.iter().flatten() {
            if prev.is_some_and(|p| key(p) > key(b)) {
                sorted = false;
                break;
            }
            prev = Some(b);
        }
        let parts: Vec<Vec<Bar>> = parts.into_iter().filter(|p| !p.is_empty()).collect();
        if sorted {
            return Bars { parts };
        }
        let mut all = Bars { parts }.into_vec();
        all.sort_by_key(key);
        Bars { parts: vec![all] }
    }
}

/// Bars read from a source.
#[derive(Debug)]
pub struct Loaded {
    pub bars: Bars,
    /// Malformed rows skipped (only with `skip_bad_rows`), and the first few errors.
    pub skipped: u64,
    pub first_errors: Vec<String>,
}

/// Why market data could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("cannot read {name}: {source}")]
    Io {
        name: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{name}: {error}\n    help: fix the row, or set skip_bad_rows (--skip-bad-rows) to skip malformed rows with a counted warning"
    )]
    Row { name: String, error: csv::CsvError },
    #[error("{name}: {error}")]
    Header { name: String, error: csv::CsvError },
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
use crate::limits::{FEED_KEEP_ERRORS as KEEP_ERRORS, FEED_STEP_BYTES as STEP};

fn threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8)
}

/// One part's outcome; line numbers in `errors` count from the part's first line (0-based).
struct Part {
    bars: Vec<Bar>,
    lines: u64,
    skipped: u64,
    errors: Vec<csv::CsvError>,
    /// The first malformed row, when rows are not skipped (parsing of the part stops there).
    fatal: Option<csv::CsvError>,
}

/// Read `path` (gzip detected by its magic bytes).
pub fn load(path: &Path, symbols: &[Symbol], skip_bad_rows: bool) -> Result<Loaded, FileError> {
    let name = path.display().to_string();
    let io = |source| FileError::Io {
        name: name.clone(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    let mut magic = [0u8; 2];
    let n = read_at_most(&file, &mut magic, 0).map_err(io)?;
    if n == 2 && magic == GZIP_MAGIC {
        let bytes = std::fs::read(path).map_err(io)?;
        return load_bytes(&name, &bytes, symbols, skip_bad_rows);
    }
    // The header: the first line.
    let mut head = Vec::new();
    let header_end = loop {
        let from = head.len();
        head.resize(from + STEP, 0);
        let got = read_at_most(&file, &mut head[from..], from as u64).map_err(io)?;
        head.truncate(from + got);
        if let Some(p) = head[from..].iter().position(|b| *b == b'\n') {
            break from + p;
        }
        if got == 0 || head.len() >= 1 << 20 {
            break head.len();
        }
    };
    check_header(&name, &head[..header_end])?;
    let body = (header_end as u64 + 1).min(size);
    let n = threads() as u64;
    let ranges: Vec<(u64, u64)> = (0..n)
        .map(|i| {
            let len = size - body;
            (body + len * i / n, body + len * (i + 1) / n)
        })
        .collect();
    let parts = std::thread::scope(|scope| {
        let handles: Vec<_> = ranges
            .iter()
            .map(|&(start, end)| {
                let file = &file;
                scope.spawn(move || -> std::io::Result<Part> {
                    let chunk = read_range(file, start, end, body, size)?;
                    Ok(parse_lines(&chunk, symbols, skip_bad_rows))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(std::io::Error::other("a parser thread panicked")))
            })
            .collect::<Vec<_>>()
    });
    let parts = parts
        .into_iter()
        .collect::<std::io::Result<Vec<Part>>>()
        .map_err(io)?;
    finish(&name, parts)
}

/// Fill `buf` from `offset` as far as the file goes; the number of bytes read.
fn read_at_most(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// The complete lines that start in `[start, end)` of the body (which begins at `body`): a
/// range after the first skips the line it begins inside of (the previous range owns it), and
/// a range reads past its end to finish its last line.
fn read_range(file: &File, start: u64, end: u64, body: u64, size: u64) -> std::io::Result<Vec<u8>> {
    // One byte before the range tells whether a line starts exactly at `start`.
    let from = if start > body { start - 1 } else { start };
    let mut buf = vec![0u8; (end - from) as usize];
    let got = read_at_most(file, &mut buf, from)?;
    buf.truncate(got);
    let mut pos = from + got as u64;
    while pos < size && buf.last().is_some_and(|b| *b != b'\n') {
        let at = buf.len();
        buf.resize(at + STEP, 0);
        let got = read_at_most(file, &mut buf[at..], pos)?;
        buf.truncate(at + got);
        let Some(nl) = buf[at..].iter().position(|b| *b == b'\n') else {
            if got == 0 {
                break;
            }
            pos += got as u64;
            continue;
        };
        buf.truncate(at + nl + 1);
        break;
    }
    if start > body {
        let skip = buf
            .iter()
            .position(|b| *b == b'\n')
            .map_or(buf.len(), |p| p + 1);
        buf.drain(..skip);
    }
    Ok(buf)
}

fn check_header(name: &str, line: &[u8]) -> Result<(), FileError> {
    let header = String::from_utf8_lossy(line);
    csv::check_header(header.trim_end_matches('\r')).map_err(|error| FileError::Header {
        name: name.to_owned(),
        error,
    })
}

/// Read the bundled data.
pub fn load_bundled(symbols: &[Symbol]) -> Result<Loaded, FileError> {
    load_bytes(BUNDLED_NAME, BUNDLED, symbols, false)
}

/// Read CSV or gzipped CSV held in memory; keep `symbols` (all if empty); in time order, then
/// symbol. Rows are parsed on all cores, in chunks split at line boundaries.
pub fn load_bytes(
    name: &str,
    bytes: &[u8],
    symbols: &[Symbol],
    skip_bad_rows: bool,
) -> Result<Loaded, FileError> {
    let inflated;
    let text: &[u8] = if bytes.starts_with(&GZIP_MAGIC) {
        let mut v = Vec::new();
        flate2::read::MultiGzDecoder::new(bytes)
            .read_to_end(&mut v)
            .map_err(|source| FileError::Io {
                name: name.to_owned(),
                source,
            })?;
        inflated = v;
        &inflated
    } else {
        bytes
    };
    let header_end = text.iter().position(|b| *b == b'\n').unwrap_or(text.len());
    check_header(name, &text[..header_end])?;
    let body = text.get(header_end + 1..).unwrap_or(&[]);
    // Chunks end at newlines.
    let n = threads();
    let mut chunks: Vec<&[u8]> = Vec::with_capacity(n);
    let mut start = 0usize;
    for i in 1..=n {
        let mut end = if i == n {
            body.len()
        } else {
            (body.len() * i / n).max(start)
        };
        while end < body.len() && body[end - 1] != b'\n' {
            end += 1;
        }
        chunks.push(&body[start..end]);
        start = end;
    }
    let parts: Vec<Part> = std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .iter()
            .map(|chunk| scope.spawn(move || parse_lines(chunk, symbols, skip_bad_rows)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().map_err(|_| FileError::Io {
                    name: name.to_owned(),
                    source: std::io::Error::other("a parser thread panicked"),
                })
            })
            .collect::<Result<Vec<Part>, FileError>>()
    })?;
    finish(name, parts)
}

/// Join the parts in file order: file line numbers on errors, the first fatal one reported.
fn finish(name: &str, parts: Vec<Part>) -> Result<Loaded, FileError> {
    let mut out = Loaded {
        bars: Bars::default(),
        skipped: 0,
        first_errors: Vec::new(),
    };
    // The first body line is line 2 of the file.
    let mut first_line = 2u64;
    let mut bars = Vec::with_capacity(parts.len());
    for part in parts {
        if let Some(mut error) = part.fatal {
            error.line += first_line;
            return Err(FileError::Row {
                name: name.to_owned(),
                error,
            });
        }
        out.skipped += part.skipped;
        for mut e in part.errors {
            if out.first_errors.len() < KEEP_ERRORS {
                e.line += first_line;
                out.first_errors.push(format!("{name}: {e}"));
            }
        }
        first_line += part.lines;
        bars.push(part.bars);
    }
    out.bars = Bars::from_parts(bars);
    Ok(out)
}

/// Parse the lines of `chunk` (line numbers relative to it, from 0).
fn parse_lines(chunk: &[u8], symbols: &[Symbol], skip_bad_rows: bool) -> Part {
    let lines = chunk.iter().filter(|b| **b == b'\n').count();
    let mut out = Part {
        // One bar per line unless symbols are filtered.
        bars: Vec::with_capacity(if symbols.is_empty() { lines + 1 } else { 0 }),
        lines: lines as u64,
        skipped: 0,
        errors: Vec::new(),
        fatal: None,
    };
    let mut rows = csv::RowParser::default();
    for (i, raw) in chunk.split(|b| *b == b'\n').enumerate() {
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match rows.parse(i as u64, raw) {
            Ok(bar) => {
                if symbols.is_empty() || symbols.contains(&bar.symbol) {
                    out.bars.push(bar);
                }
            }
            Err(e) if skip_bad_rows => {
                out.skipped += 1;
                if out.errors.len() < KEEP_ERRORS {
                    out.errors.push(e);
                }
            }
            Err(e) => {
                out.fatal = Some(e);
                break;
            }
        }
    }
    out
}

/// Read from any reader (for tests and pipes).
pub fn load_from(
    name: &str,
    mut reader: impl Read,
    symbols: &[Symbol],
    skip_bad_rows: bool,
) -> Result<Loaded, FileError> {
    let mut bytes = Vec::new();
    reader
        .read_to_end(&mut bytes)
        .map_err(|source| FileError::Io {
            name: name.to_owned(),
            source,
        })?;
    load_bytes(name, &bytes, symbols, skip_bad_rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_data_is_embedded_and_sorted_by_time() {
        let all = load_bundled(&[]).unwrap();
        assert_eq!(all.bars.len(), 12_154);
        let v = all.bars.into_vec();
        assert!(v.windows(2).all(|w| w[0].ts <= w[1].ts));
        let aapl = load_bundled(&[Symbol::new("AAPL").unwrap()]).unwrap();
        assert_eq!(aapl.bars.len(), 3_270);
    }

    fn csv_text(rows: usize) -> String {
        let mut s = String::from("Ticker,Date,Open,High,Low,Close,Volume\n");
        for i in 0..rows {
            s.push_str(&format!(
                "S{},2020-01-{:02} 10:{:02}:00,{}.5,{}.9,{}.1,{}.5,{}\n",
                i % 3,
                1 + i / 60 % 28,
                i % 60,
                10 + i,
                10 + i,
                10 + i,
                10 + i,
                i
            ));
        }
        s
    }

    #[test]
    fn a_plain_file_read_in_ranges_gives_what_the_bytes_give_for_every_split() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("bars.csv");
        for rows in [0, 1, 2, 3, 7, 100] {
            let text = csv_text(rows);
            std::fs::write(&path, &text).unwrap();
            let from_file = load(&path, &[], false).unwrap().bars.into_vec();
            let from_bytes = load_bytes("x", text.as_bytes(), &[], false)
                .unwrap()
                .bars
                .into_vec();
            assert_eq!(from_file.len(), rows);
            assert_eq!(from_file, from_bytes);
            // Every range boundary, including inside a line and right at a newline.
            let size = text.len() as u64;
            let file = File::open(&path).unwrap();
            let body = text.find('\n').unwrap() as u64 + 1;
            for cut in body..=size {
                let a = read_range(&file, body, cut, body, size).unwrap();
                let b = read_range(&file, cut, size, body, size).unwrap();
                let joined = [a, b].concat();
                assert_eq!(joined, text.as_bytes()[body as usize..], "cut at {cut}");
            }
        }
    }

    #[test]
    fn errors_name_the_files_line_from_any_part_and_unsorted_parts_are_sorted() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("bars.csv");
        let mut text = csv_text(50);
        text.push_str("S1,2020-01-01 09:00:00,1,1,1,1,1\n"); // earlier than all: line 52
        text.push_str("S1,2020-01-01 09:00:00,1,x,1,1,1\n"); // line 53
        std::fs::write(&path, &text).unwrap();
        let e = load(&path, &[], false).unwrap_err().to_string();
        assert!(e.contains("line 53, column 4"), "{e}");
        let ok = load(&path, &[], true).unwrap();
        assert_eq!(ok.skipped, 1);
        assert!(
            ok.first_errors[0].contains("line 53"),
            "{:?}",
            ok.first_errors
        );
        let v = ok.bars.into_vec();
        assert_eq!(v.len(), 51);
        assert!(
            v.windows(2)
                .all(|w| (w[0].ts, w[0].symbol) <= (w[1].ts, w[1].symbol))
        );
        assert_eq!(v[0].ts.to_string(), "2020-01-01T09:00:00.000Z");
    }
}
