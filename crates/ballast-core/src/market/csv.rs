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
    parse_time_bytes(text.trim().as_bytes())
}

fn digits(b: &[u8]) -> Option<i64> {
    b.iter().try_fold(0i64, |a, c| {
        c.is_ascii_digit().then(|| a * 10 + i64::from(c - b'0'))
    })
}

fn parse_time_bytes(b: &[u8]) -> Option<Timestamp> {
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let day = Timestamp::from_date(
        i32::try_from(digits(&b[0..4])?).ok()?,
        u32::try_from(digits(&b[5..7])?).ok()?,
        u32::try_from(digits(&b[8..10])?).ok()?,
    )?;
    if b.len() == 10 {
        return Some(day);
    }
    if b[10] != b' ' && b[10] != b'T' {
        return None;
    }
    let r = b[11..].strip_suffix(b"Z").unwrap_or(&b[11..]);
    let (h, m, sec) = match r.len() {
        5 if r[2] == b':' => (digits(&r[0..2])?, digits(&r[3..5])?, 0),
        8 if r[2] == b':' && r[5] == b':' => {
            (digits(&r[0..2])?, digits(&r[3..5])?, digits(&r[6..8])?)
        }
        // Fractional seconds and offsets take the general parser.
        _ => return Timestamp::parse_rfc3339(std::str::from_utf8(b).ok()?).ok(),
    };
    if h > 23 || m > 59 || sec > 59 {
        return None;
    }
    Some(day.plus_ms(((h * 60 + m) * 60 + sec) * 1000))
}

/// Plain `digits[.digits]` with at most 18 digits, without going through the general parser
/// (the hot path of a backtest's loading); anything else returns `None` and takes the general
/// path, so the result is always what `Decimal::from_str` gives.
fn fast_decimal(b: &[u8]) -> Option<Decimal> {
    if b.is_empty() || b.len() > 19 {
        return None;
    }
    let (mut mantissa, mut dot, mut digits) = (0i64, None, 0u32);
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + i64::from(c - b'0');
                digits += 1;
            }
            b'.' if dot.is_none() => dot = Some(i),
            _ => return None,
        }
    }
    let scale = dot.map_or(0, |i| b.len() - 1 - i) as u32;
    if digits == 0 || digits > 18 || (dot.is_some() && scale == 0) {
        return None;
    }
    Some(Decimal::new(mantissa, scale))
}

fn decimal(b: &[u8]) -> Option<Decimal> {
    fast_decimal(b).or_else(|| Decimal::from_str(std::str::from_utf8(b).ok()?).ok())
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).chars().take(64).collect()
}

fn err(line: u64, column: usize, value: &[u8], why: impl Into<String>) -> CsvError {
    CsvError {
        line,
        column,
        value: text(value),
        why: why.into(),
    }
}

fn trim(mut b: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = b {
        if !first.is_ascii_whitespace() {
            break;
        }
        b = rest;
    }
    while let [rest @ .., last] = b {
        if !last.is_ascii_whitespace() {
            break;
        }
        b = rest;
    }
    b
}

/// Parse one data line (without its newline; a trailing `\r` is ignored). Works on bytes in
/// one pass: the fields are split, trimmed and parsed without copying or allocating.
pub fn parse_row(line_no: u64, line: &[u8]) -> Result<Bar, CsvError> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut fields = line.split(|b| *b == b',');
    let mut next = |col: usize| {
        fields.next().map(trim).ok_or_else(|| {
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
    let symbol = Symbol::from_bytes(ticker).map_err(|why| err(line_no, 1, ticker, why))?;
    let date = next(2)?;
    let ts = parse_time_bytes(date).ok_or_else(|| {
        err(
            line_no,
            2,
            date,
            "not a date (YYYY-MM-DD or YYYY-MM-DD HH:MM:SS)",
        )
    })?;
    let mut num = |col: usize| -> Result<Decimal, CsvError> {
        let field = next(col)?;
        let v = decimal(field).ok_or_else(|| err(line_no, col, field, "not a decimal number"))?;
        if v.is_sign_negative() || (col < 7 && v.is_zero()) {
            return Err(err(
                line_no,
                col,
                field,
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
        let b = parse_row(
            2,
            b"AAPL,2000-03-01,118.56,132.06,118.5,130.31,9616100,4.18",
        )
        .unwrap();
        assert_eq!(b.symbol.as_str(), "AAPL");
        assert_eq!(b.ts.to_string(), "2000-03-01T00:00:00.000Z");
        assert_eq!(b.close, Decimal::new(13031, 2));
        let m = parse_row(3, b"X,2024-01-02 09:31,1,1,1,1,5").unwrap();
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
            if let Some(v) = fast_decimal(t.as_bytes()) {
                assert_eq!(Some(v), Decimal::from_str(t).ok(), "{t}");
                assert_eq!(
                    v.to_string(),
                    Decimal::from_str(t).unwrap().to_string(),
                    "{t}: scale kept"
                );
            }
        }
        assert!(
            fast_decimal(b"1.").is_none()
                && fast_decimal(b"-1").is_none()
                && fast_decimal(b"1e5").is_none()
        );
    }

    #[test]
    fn errors_name_line_column_and_value() {
        let e = parse_row(7, b"AAPL,2000-03-01,118.56,abc,118.5,130.31,9616100").unwrap_err();
        assert_eq!((e.line, e.column), (7, 4));
        assert_eq!(
            e.to_string(),
            "line 7, column 4 (High): \"abc\": not a decimal number"
        );
        assert_eq!(
            parse_row(8, b"AAPL,2000-13-01,1,1,1,1,1")
                .unwrap_err()
                .column,
            2
        );
        assert_eq!(parse_row(9, b"AAPL,2000-03-01,1,1").unwrap_err().column, 0);
        assert_eq!(
            parse_row(10, b"AAPL,2000-03-01,-1,1,1,1,1")
                .unwrap_err()
                .column,
            3
        );
        assert!(
            parse_row(11, b"AAPL,2000-03-01,5,4,1,2,1")
                .unwrap_err()
                .why
                .contains("inconsistent")
        );
        assert_eq!(
            parse_row(12, b"A A,2000-03-01,1,1,1,1,1")
                .unwrap_err()
                .column,
            1
        );
    }
}
