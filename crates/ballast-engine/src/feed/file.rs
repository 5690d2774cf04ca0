//! Reading OHLCV CSV (plain or gzipped) into bars, in time order. The parsing itself is
//! `ballast_core::market::csv`; this file does the I/O. The bundled real data is compiled into
//! the binary, so a fresh build replays it with no file at hand.

use std::io::{BufRead, BufReader, Read};
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
/// symbol.
pub fn load_bytes(
    name: &str,
    bytes: &[u8],
    symbols: &[Symbol],
    skip_bad_rows: bool,
) -> Result<Loaded, FileError> {
    let reader: Box<dyn BufRead + '_> = if bytes.starts_with(&GZIP_MAGIC) {
        Box::new(BufReader::with_capacity(
            1 << 20,
            flate2::read::MultiGzDecoder::new(bytes),
        ))
    } else {
        Box::new(BufReader::new(bytes))
    };
    load_reader(name, reader, symbols, skip_bad_rows)
}

fn load_reader(
    name: &str,
    reader: impl BufRead,
    symbols: &[Symbol],
    skip_bad_rows: bool,
) -> Result<Loaded, FileError> {
    let mut out = Loaded {
        bars: Vec::new(),
        skipped: 0,
        first_errors: Vec::new(),
    };
    let mut line_no = 0u64;
    for line in reader.lines() {
        line_no += 1;
        let line = line.map_err(|source| FileError::Io {
            name: format!("{name} line {line_no}"),
            source,
        })?;
        if line_no == 1 {
            csv::check_header(&line).map_err(|error| FileError::Header {
                name: name.to_owned(),
                error,
            })?;
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        match csv::parse_row(line_no, &line) {
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
    out.bars
        .sort_by(|a, b| a.ts.cmp(&b.ts).then_with(|| a.symbol.cmp(&b.symbol)));
    Ok(out)
}

/// Read from any reader (for tests and pipes).
pub fn load_from(
    name: &str,
    reader: impl Read,
    symbols: &[Symbol],
    skip_bad_rows: bool,
) -> Result<Loaded, FileError> {
    load_reader(name, BufReader::new(reader), symbols, skip_bad_rows)
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
