//! Reading OHLCV CSV files (plain or gzipped) into bars, in time order. The parsing itself
//! is `ballast_core::market::csv`; this file does the I/O.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use anyhow::{Context, bail};
use ballast_core::domain::Symbol;
use ballast_core::market::{Bar, csv};

/// Bars read from a file.
pub struct Loaded {
    pub bars: Vec<Bar>,
    /// Malformed rows skipped (only with `skip_bad_rows`), with the first few errors.
    pub skipped: u64,
    pub first_errors: Vec<String>,
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// How many skipped-row errors are kept for the report.
const KEEP_ERRORS: usize = 5;

/// Read `path`, keep `symbols` (all if empty), sort by time (then symbol, stably).
pub fn load(path: &Path, symbols: &[Symbol], skip_bad_rows: bool) -> anyhow::Result<Loaded> {
    let mut file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut magic = [0u8; 2];
    let n = file
        .read(&mut magic)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let reader: Box<dyn BufRead> = if n == 2 && magic == GZIP_MAGIC {
        Box::new(BufReader::with_capacity(
            1 << 20,
            flate2::read::MultiGzDecoder::new(file),
        ))
    } else {
        Box::new(BufReader::with_capacity(1 << 20, file))
    };
    let mut out = Loaded {
        bars: Vec::new(),
        skipped: 0,
        first_errors: Vec::new(),
    };
    let mut line_no = 0u64;
    for line in reader.lines() {
        line_no += 1;
        let line =
            line.with_context(|| format!("{}: cannot read line {line_no}", path.display()))?;
        if line_no == 1 {
            csv::check_header(&line).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
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
                    out.first_errors.push(format!("{}: {e}", path.display()));
                }
            }
            Err(e) => bail!(
                "{}: {e}\n    help: fix the row, or pass --skip-bad-rows to skip malformed rows with a counted warning",
                path.display()
            ),
        }
    }
    out.bars
        .sort_by(|a, b| a.ts.cmp(&b.ts).then_with(|| a.symbol.cmp(&b.symbol)));
    Ok(out)
}
