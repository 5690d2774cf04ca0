//! Reading OHLCV CSV (plain or gzipped) into bars, in time order. The parsing itself is
//! `ballast_core::market::csv`; this file does the I/O. The bundled real data is compiled into
//! the binary, so a fresh build replays it with no file at hand.

use std::io::Read;
use std::path::Path;

use ballast_core::domain::Symbol;
use ballast_core::market::{Bar, csv};

/// `data/stocks-daily-2000-2013.csv.gz` (public domain; provenance in `data/README.md`).
pub const BUNDLED: &[u8] = include_bytes!("../../../../data/stocks-daily-2000-2013.csv.gz");
/// How the bundled data is named in messages.
pub const BUNDLED_NAME: &str = "bundled:stocks-daily-2000-2013.csv.gz";

/// Bars read from a source.
#[derive(Debug)]
pub struct Loaded {
    pub bars: Vec<Bar>,
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
/// How many skipped-row errors are kept for the report.
const KEEP_ERRORS: usize = 5;

/// Read `path` (gzip detected by its magic bytes).
pub fn load(path: &Path, symbols: &[Symbol], skip_bad_rows: bool) -> Result<Loaded, FileError> {
    let name = path.display().to_string();
    let io = |source| FileError::Io {
        name: name.clone(),
        source,
    };
    let bytes = std::fs::read(path).map_err(io)?;
    load_bytes(&name, &bytes, symbols, skip_bad_rows)
}

/// Read the bundled data.
pub fn load_bundled(symbols: &[Symbol]) -> Result<Loaded, FileError> {
    load_bytes(BUNDLED_NAME, BUNDLED, symbols, false)
}

/// Read CSV or gzipped CSV held in memory; keep `symbols` (all if empty); sort by time, then
/// symbol. Rows are parsed on all cores, in chunks split at line boundaries; errors still name
/// the file's line.
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
    let header = String::from_utf8_lossy(&text[..header_end]);
    csv::check_header(header.trim_end_matches('\r')).map_err(|error| FileError::Header {
        name: name.to_owned(),
        error,
    })?;
    let body = text.get(header_end + 1..).unwrap_or(&[]);
    // Chunks end at newlines; each knows the file line number it starts at.
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8);
    // (chunk, its first line number, its number of lines)
    let mut chunks: Vec<(&[u8], u64, usize)> = Vec::with_capacity(threads);
    let (mut start, mut line) = (0usize, 2u64);
    for i in 1..=threads {
        let mut end = if i == threads {
            body.len()
        } else {
            (body.len() * i / threads).max(start)
        };
        while end < body.len() && body[end - 1] != b'\n' {
            end += 1;
        }
        let chunk = &body[start..end];
        let lines = chunk.iter().filter(|b| **b == b'\n').count();
        chunks.push((chunk, line, lines + 1));
        line += lines as u64;
        start = end;
    }
    let parts: Vec<Result<Loaded, FileError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .iter()
            .map(|(chunk, first, lines)| {
                scope
                    .spawn(move || parse_chunk(name, chunk, *first, *lines, symbols, skip_bad_rows))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(FileError::Io {
                        name: name.to_owned(),
                        source: std::io::Error::other("a parser thread panicked"),
                    })
                })
            })
            .collect()
    });
    let parts = parts
        .into_iter()
        .collect::<Result<Vec<Loaded>, FileError>>()?;
    let total: usize = parts.iter().map(|p| p.bars.len()).sum();
    let mut out = Loaded {
        bars: Vec::new(),
        skipped: 0,
        first_errors: Vec::new(),
    };
    for mut part in parts {
        // The first part's buffer grows in place (a large realloc remaps pages rather than
        // copying them); only the later parts are copied.
        if out.bars.is_empty() {
            std::mem::swap(&mut out.bars, &mut part.bars);
            out.bars.reserve(total - out.bars.len());
        } else {
            out.bars.append(&mut part.bars);
        }
        out.skipped += part.skipped;
        for e in part.first_errors {
            if out.first_errors.len() < KEEP_ERRORS {
                out.first_errors.push(e);
            }
        }
    }
    out.bars
        .sort_by(|a, b| a.ts.cmp(&b.ts).then_with(|| a.symbol.cmp(&b.symbol)));
    Ok(out)
}

fn parse_chunk(
    name: &str,
    chunk: &[u8],
    first_line: u64,
    lines: usize,
    symbols: &[Symbol],
    skip_bad_rows: bool,
) -> Result<Loaded, FileError> {
    let mut out = Loaded {
        bars: Vec::with_capacity(if symbols.is_empty() { lines } else { 0 }),
        skipped: 0,
        first_errors: Vec::new(),
    };
    for (i, raw) in chunk.split(|b| *b == b'\n').enumerate() {
        let line_no = first_line + i as u64;
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let parsed = csv::parse_row(line_no, raw);
        match parsed {
            Ok(bar) => {
                if symbols.is_empty() || symbols.contains(&bar.symbol) {
                    out.bars.push(bar);
                }
            }
            Err(e) if skip_bad_rows => {
                out.skipped += 1;
                if out.first_errors.len() < KEEP_ERRORS {
                    out.first_errors.push(format!("{name}: {e}"));
                }
            }
            Err(error) => {
                return Err(FileError::Row {
                    name: name.to_owned(),
                    error,
                });
            }
        }
    }
    Ok(out)
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
        assert!(all.bars.windows(2).all(|w| w[0].ts <= w[1].ts));
        let aapl = load_bundled(&[Symbol::new("AAPL").unwrap()]).unwrap();
        assert_eq!(aapl.bars.len(), 3_270);
    }
}
