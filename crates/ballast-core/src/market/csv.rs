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

fn parse_day(b: &[u8]) -> Option<Timestamp> {
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    Timestamp::from_date(
        i32::try_from(digits(&b[0..4])?).ok()?,
        u32::try_from(digits(&b[5..7])?).ok()?,
        u32::try_from(digits(&b[8..10])?).ok()?,
    )
}

fn parse_time_bytes(b: &[u8]) -> Option<Timestamp> {
    parse_time_with(b, &mut None)
}

/// The last date seen and its midnight: rows of intraday bars share their date.
type DayCache = Option<([u8; 10], Timestamp)>;

fn parse_time_with(b: &[u8], cache: &mut DayCache) -> Option<Timestamp> {
    let head = b.get(..10)?;
    let day = match cache {
        Some((text, day)) if text.as_slice() == head => *day,
        _ => {
            let day = parse_day(b)?;
            let mut text = [0u8; 10];
            text.copy_from_slice(head);
            *cache = Some((text, day));
            day
        }
    };
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

/// `a <= b`, comparing mantissas when the scales agree (the common case of a CSV file, where
/// a column keeps its number of decimals).
fn le(a: Decimal, b: Decimal) -> bool {
    if a.scale() == b.scale() {
        a.mantissa() <= b.mantissa()
    } else {
        a <= b
    }
}

/// Parse one data line (without its newline; a trailing `\r` is ignored).
pub fn parse_row(line_no: u64, line: &[u8]) -> Result<Bar, CsvError> {
    RowParser::default().parse(line_no, line)
}

/// Parses the rows of one file, remembering the last date (intraday rows share it).
#[derive(Debug, Default)]
pub struct RowParser {
    day: DayCache,
}

impl RowParser {
    /// [`parse_row`]. Works on bytes in one pass: the fields are split, trimmed and parsed
    /// without copying or allocating.
    pub fn parse(&mut self, line_no: u64, line: &[u8]) -> Result<Bar, CsvError> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        match fast_row(line, &mut self.day) {
            Some(bar) => Ok(bar),
            None => parse_row_with(line_no, line, &mut self.day),
        }
    }
}

/// The position of the next `,` at or after `from` (or the end).
fn field_end(b: &[u8], from: usize) -> usize {
    b.get(from..)
        .and_then(|rest| rest.iter().position(|c| *c == b','))
        .map_or(b.len(), |p| from + p)
}

/// A plain number `digits[.digits]` (≤ 18 digits) at `*i`, ending at `,` or the end of the
/// line; `*i` moves past the comma. As `(mantissa, scale)`.
fn fast_number(b: &[u8], i: &mut usize) -> Option<(i64, u32)> {
    let start = *i;
    let (mut m, mut dot) = (0i64, None);
    while let Some(&c) = b.get(*i) {
        match c {
            b'0'..=b'9' => m = m.checked_mul(10)? + i64::from(c - b'0'),
            b'.' if dot.is_none() => dot = Some(*i),
            b',' => break,
            _ => return None,
        }
        *i += 1;
    }
    let len = *i - start;
    let digits = len - usize::from(dot.is_some());
    let scale = dot.map_or(0, |d| *i - d - 1);
    *i += 1;
    (digits > 0 && digits <= 18 && (dot.is_none() || scale > 0)).then_some((m, scale as u32))
}

/// The common row — `TICKER,date[ time],o,h,l,c,v[,…]` with plain numbers and nothing to
/// trim — in one pass over the bytes, with the bar's checks done on integers. `None` for
/// anything else, which then takes the general path (and gets its precise error): the result,
/// when there is one, is always what the general path gives.
fn fast_row(b: &[u8], day: &mut DayCache) -> Option<Bar> {
    let t = field_end(b, 0);
    let symbol = Symbol::from_bytes(&b[..t]).ok()?;
    let d = field_end(b, t + 1);
    let ts = parse_time_with(b.get(t + 1..d)?, day)?;
    let mut i = d + 1;
    let mut n = [(0i64, 0u32); 5];
    for slot in &mut n {
        *slot = fast_number(b, &mut i)?;
    }
    let [o, h, l, c, v] = n;
    if o.0 == 0 || h.0 == 0 || l.0 == 0 || c.0 == 0 {
        return None;
    }
    let dec = |(m, s): (i64, u32)| Decimal::new(m, s);
    let (open, high, low, close) = (dec(o), dec(h), dec(l), dec(c));
    let consistent = if o.1 == h.1 && o.1 == l.1 && o.1 == c.1 {
        l.0 <= o.0 && l.0 <= c.0 && o.0 <= h.0 && c.0 <= h.0
    } else {
        low <= open && low <= close && open <= high && close <= high
    };
    consistent.then(|| Bar {
        symbol,
        ts,
        open,
        high,
        low,
        close,
        volume: dec(v),
    })
}

fn parse_row_with(line_no: u64, line: &[u8], day: &mut DayCache) -> Result<Bar, CsvError> {
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
    let ts = parse_time_with(date, day).ok_or_else(|| {
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
    if !(le(low, open) && le(low, close) && le(open, high) && le(close, high)) {
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
    fn the_fast_row_agrees_with_the_general_path() {
        let rows: &[&[u8]] = &[
            b"AAPL,2000-03-01,118.56,132.06,118.5,130.31,9616100,4.18",
            b"SYN,2020-01-02 09:31:00,100.00,100.12,99.97,100.12,5745",
            b"SYN,2020-01-02 09:31,100.00,100.12,99.97,100.12,5745",
            b"syn,2020-01-02T09:31:00Z,1.5,1.5,1.5,1.5,0",
            b"SYN,2020-01-02 09:31:00,100.00,100.12,99.97,100.12",
            b"SYN,2020-01-02 09:31:00,100.00,99.12,99.97,100.12,5",
            b"SYN,2020-01-02 09:31:00,0,1,0,1,5",
            b"SYN,2020-01-02 09:31:00, 100,100,100,100,5",
            b"SYN,2020-01-02 09:31:00,1e2,100,100,100,5",
            b"SYN,2020-01-02 09:31:00,100.,100,100,100,5",
            b"SYN,2020-01-02 09:31:00,.5,1,.5,1,5",
            b"SYN,2020-01-02 09:31:00,1.0,1.00,1,1.000,5",
            b"SYN,2020-02-30,1,1,1,1,5",
            b"SYN,2020-01-02 24:00:00,1,1,1,1,5",
            b"S Y,2020-01-02,1,1,1,1,5",
            b"SYN,2020-01-02,99999999999999999999,1,1,1,5",
            b",2020-01-02,1,1,1,1,5",
            b"SYN,,1,1,1,1,5",
            b"SYN",
            b"",
        ];
        for row in rows {
            let general = parse_row_with(2, row, &mut None);
            if let Some(bar) = fast_row(row, &mut None) {
                assert_eq!(Ok(bar), general, "{}", String::from_utf8_lossy(row));
            }
            assert_eq!(
                RowParser::default().parse(2, row),
                general,
                "{}",
                String::from_utf8_lossy(row)
            );
        }
        assert!(fast_row(rows[0], &mut None).is_some() && fast_row(rows[1], &mut None).is_some());
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
