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

/// Parse a date or date-time: `YYYY-MM-DD`, `YYYY-MM-DD HH:MM[:SS]`, or RFC 3339 UTC.
pub fn parse_time(text: &str) -> Option<Timestamp> {
    let t = text.trim();
    if t.len() == 10 {
        return Timestamp::parse_rfc3339(t).ok();
    }
    let b = t.as_bytes();
    if b.len() >= 16 && (b[10] == b' ' || b[10] == b'T') {
        let time = &t[11..];
        let time = time.strip_suffix('Z').unwrap_or(time);
        let full = if time.len() == 5 {
            format!("{time}:00")
        } else {
            time.to_owned()
        };
        return Timestamp::parse_rfc3339(&format!("{}T{full}Z", &t[..10])).ok();
    }
    None
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
    let symbol = Symbol::new(ticker).map_err(|e| err(line_no, 1, ticker, e.why))?;
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
        let v =
            Decimal::from_str(text).map_err(|_| err(line_no, col, text, "not a decimal number"))?;
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
