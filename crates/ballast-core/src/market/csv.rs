//! The OHLCV CSV format of the bundled data: `Ticker,Date,Open,High,Low,Close,Volume[,…]`.
//! Parsing is pure: the caller reads the file (plain or gzipped) and passes lines in, with
//! their line numbers, so every error names the file's line and column.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;

use super::Bar;
use crate::domain::Symbol;
use crate::time::Timestamp;

/// The columns a file must start with (extra columns after them are ignored).
pub const COLUMNS: [&str; 7] = ["Ticker", "Date", "Open", "High", "Low", "Close", "Volume"];

/// A malformed line: where, which column, the value, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvError {
    /// 1-based line number in the file.
    pub line: u64,
    /// 1-based column number (0 for a problem with the whole line).
    pub column: usize,
    pub value: String,
    pub why: String,
}

impl fmt::Display for CsvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.column == 0 {
            write!(f, "line {}: {}", self.line, self.why)
        } else {
            write!(
                f,
                "line {}, column {} ({}): {:?}: {}",
                self.line,
                self.column,
                COLUMNS.get(self.column - 1).copied().unwrap_or("?"),
                self.value,
                self.why
            )
        }
    }
}

impl std::error::Error for CsvError {}

/// Check the header line.
pub fn check_header(line: &str) -> Result<(), CsvError> {
    let cols: Vec<&str> = line
        .trim_end_matches(['\r', '\n'])
        .split(',')
        .map(str::trim)
        .collect();
    let ok = cols.len() >= COLUMNS.len()
        && cols
            .iter()
            .zip(COLUMNS)
            .all(|(a, b)| a.eq_ignore_ascii_case(b));
    if ok {
        Ok(())
    } else {
        Err(CsvError {
            line: 1,
            column: 0,
            value: line.chars().take(120).collect(),
            why: format!("the header must start with {}", COLUMNS.join(",")),
        })
    }
}

/// Parse a date or date-time: `YYYY-MM-DD`, `YYYY-MM-DD HH:MM[:SS]`, or RFC 3339 UTC
/// (`YYYY-MM-DDTHH:MM:SS[.fff]Z`). Allocation-free on the common forms.
pub fn parse_time(text: &str) -> Option<Timestamp> {
    let t = text.trim();
    let b = t.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<i64> {
        let d = b.get(r)?;
        d.iter()
            .all(u8::is_ascii_digit)
            .then(|| d.iter().fold(0i64, |a, c| a * 10 + i64::from(c - b'0')))
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let day = Timestamp::from_date(
        i32::try_from(digits(0..4)?).ok()?,
        u32::try_from(digits(5..7)?).ok()?,
        u32::try_from(digits(8..10)?).ok()?,
    )?;
    if b.len() == 10 {
        return Some(day);
    }
    if b[10] != b' ' && b[10] != b'T' {
        return None;
    }
    let rest = t.get(11..)?.strip_suffix('Z').unwrap_or(&t[11..]);
    let r = rest.as_bytes();
    let (h, m, sec) = match r.len() {
        5 if r[2] == b':' => (digits(11..13)?, digits(14..16)?, 0),
        8 if r[2] == b':' && r[5] == b':' => (digits(11..13)?, digits(14..16)?, digits(17..19)?),
        _ => return Timestamp::parse_rfc3339(t).ok(), // fractional seconds
    };
    if h > 23 || m > 59 || sec > 59 {
        return None;
    }
    Some(day.plus_ms(((h * 60 + m) * 60 + sec) * 1000))
}

/// Plain `digits[.digits]` with at most 18 digits, without going through the general parser
/// (the hot path of a backtest's loading); anything else returns `None` and takes the general
/// path, so the result is always what `Decimal::from_str` gives.
fn fast_decimal(text: &str) -> Option<Decimal> {
    let b = text.as_bytes();
    if b.is_empty() || b.len() > 19 {
        return None;
    }
    let (mut mantissa, mut scale, mut seen_dot, mut digits) = (0i64, 0u32, false, 0);
    for &c in b {
        match c {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + i64::from(c - b'0');
                digits += 1;
                if seen_dot {
                    scale += 1;
                }
            }
            b'.' if !seen_dot => seen_dot = true,
            _ => return None,
        }
    }
    if digits == 0 || digits > 18 || (seen_dot && scale == 0) {
        return None;
    }
    Some(Decimal::new(mantissa, scale))
}

/// Reuses one [`Symbol`] per ticker text, so a million rows of a few symbols allocate a few
/// symbols.
#[derive(Debug, Default)]
pub struct SymbolCache {
    last: Option<Symbol>,
    all: std::collections::HashMap<String, Symbol>,
}

impl SymbolCache {
    fn get(&mut self, text: &str) -> Result<Symbol, crate::domain::SymbolError> {
        if let Some(s) = &self.last {
            if s.as_str() == text {
                return Ok(s.clone());
            }
        }
        let sym = match self.all.get(text) {
            Some(s) => s.clone(),
            None => {
                let s = Symbol::new(text)?;
                if self.all.len() < 100_000 {
                    self.all.insert(text.to_owned(), s.clone());
                }
                s
            }
        };
        self.last = Some(sym.clone());
        Ok(sym)
    }
}

fn err(line: u64, column: usize, value: &str, why: impl Into<String>) -> CsvError {
    CsvError {
        line,
        column,
        value: value.chars().take(64).collect(),
        why: why.into(),
    }
}

/// Parse one data line (without its newline).
pub fn parse_row(line_no: u64, line: &str) -> Result<Bar, CsvError> {
    parse_row_cached(line_no, line, &mut SymbolCache::default())
}

/// [`parse_row`] with a symbol cache shared across rows.
pub fn parse_row_cached(
    line_no: u64,
    line: &str,
    symbols: &mut SymbolCache,
) -> Result<Bar, CsvError> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let mut fields = line.split(',');
    let mut next = |col: usize| {
        fields.next().map(str::trim).ok_or_else(|| {
            err(
                line_no,
                0,
                line,
                format!(
                    "expected at least {} columns, found {}",
                    COLUMNS.len(),
                    col - 1
                ),
            )
        })
    };
    let ticker = next(1)?;
    let symbol = symbols
        .get(ticker)
        .map_err(|e| err(line_no, 1, ticker, e.why))?;
    let date = next(2)?;
    let ts = parse_time(date).ok_or_else(|| {
        err(
            line_no,
            2,
            date,
            "not a date (YYYY-MM-DD or YYYY-MM-DD HH:MM:SS)",
        )
    })?;
    let mut num = |col: usize| -> Result<Decimal, CsvError> {
        let text = next(col)?;
        let v = fast_decimal(text)
            .map(Ok)
            .unwrap_or_else(|| Decimal::from_str(text))
            .map_err(|_| err(line_no, col, text, "not a decimal number"))?;
        if v.is_sign_negative() || (col < 7 && v.is_zero()) {
            return Err(err(
                line_no,
                col,
                text,
                if col < 7 {
                    "a price must be positive"
                } else {
                    "volume must not be negative"
                },
            ));
        }
        Ok(v)
    };
    let (open, high, low, close, volume) = (num(3)?, num(4)?, num(5)?, num(6)?, num(7)?);
    if low > open.min(close) || high < open.max(close) || low > high {
        return Err(err(
            line_no,
            0,
            line,
            format!("inconsistent bar: low {low}, high {high}, open {open}, close {close}"),
        ));
    }
    Ok(Bar {
        symbol,
        ts,
        open,
        high,
        low,
        close,
        volume,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_bundled_format() {
        check_header("Ticker,Date,Open,High,Low,Close,Volume,Adj Close").unwrap();
        assert!(check_header("Date,Open").is_err());
        let b = parse_row(2, "AAPL,2000-03-01,118.56,132.06,118.5,130.31,9616100,4.18").unwrap();
        assert_eq!(b.symbol.as_str(), "AAPL");
        assert_eq!(b.ts.to_string(), "2000-03-01T00:00:00.000Z");
        assert_eq!(b.close, Decimal::new(13031, 2));
        let m = parse_row(3, "X,2024-01-02 09:31,1,1,1,1,5").unwrap();
        assert_eq!(m.ts.to_string(), "2024-01-02T09:31:00.000Z");
    }

    #[test]
    fn the_fast_decimal_path_agrees_with_the_general_parser() {
        for t in [
            "0",
            "1",
            "118.56",
            "0.0001",
            "123456789012345678",
            "9616100",
            "1.",
            ".5",
            "1.2.3",
            "-1",
            "1e5",
            "",
            "12345678901234567890",
        ] {
            if let Some(v) = fast_decimal(t) {
                assert_eq!(Some(v), Decimal::from_str(t).ok(), "{t}");
                assert_eq!(
                    v.to_string(),
                    Decimal::from_str(t).unwrap().to_string(),
                    "{t}: scale kept"
                );
            }
        }
        assert!(
            fast_decimal("1.").is_none()
                && fast_decimal("-1").is_none()
                && fast_decimal("1e5").is_none()
        );
    }

    #[test]
    fn errors_name_line_column_and_value() {
        let e = parse_row(7, "AAPL,2000-03-01,118.56,abc,118.5,130.31,9616100").unwrap_err();
        assert_eq!((e.line, e.column), (7, 4));
        assert_eq!(
            e.to_string(),
            "line 7, column 4 (High): \"abc\": not a decimal number"
        );
        assert_eq!(
            parse_row(8, "AAPL,2000-13-01,1,1,1,1,1")
                .unwrap_err()
                .column,
            2
        );
        assert_eq!(parse_row(9, "AAPL,2000-03-01,1,1").unwrap_err().column, 0);
        assert_eq!(
            parse_row(10, "AAPL,2000-03-01,-1,1,1,1,1")
                .unwrap_err()
                .column,
            3
        );
        assert!(
            parse_row(11, "AAPL,2000-03-01,5,4,1,2,1")
                .unwrap_err()
                .why
                .contains("inconsistent")
        );
        assert_eq!(
            parse_row(12, "A A,2000-03-01,1,1,1,1,1")
                .unwrap_err()
                .column,
            1
        );
    }
}
