//! UTC timestamps with millisecond precision, formatted as RFC 3339 (`2026-11-22T22:59:20.123Z`).
//!
//! A small civil-calendar conversion (proleptic Gregorian, days since the Unix epoch) keeps the
//! core free of a date crate; it is exercised exhaustively by the tests below.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Milliseconds since the Unix epoch, UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

const MS_PER_SEC: i64 = 1_000;
const MS_PER_DAY: i64 = 86_400 * MS_PER_SEC;

/// Milliseconds in `secs` seconds: the one conversion of a seconds setting (the config counts
/// in whole seconds) to the milliseconds the core decides in. Lossless: `u32::MAX` seconds is
/// far inside `i64` milliseconds.
pub const fn ms_from_secs(secs: u32) -> i64 {
    secs as i64 * MS_PER_SEC
}

impl Timestamp {
    /// The Unix epoch.
    pub const EPOCH: Timestamp = Timestamp(0);

    pub const fn from_unix_ms(ms: i64) -> Self {
        Timestamp(ms)
    }

    pub const fn unix_ms(self) -> i64 {
        self.0
    }

    /// Midnight UTC of a calendar date, or `None` if the date does not exist.
    pub fn from_date(year: i32, month: u32, day: u32) -> Option<Self> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(Timestamp(days_from_civil(year, month, day) * MS_PER_DAY))
    }

    /// `self + ms` (saturating: timestamps never wrap).
    pub fn plus_ms(self, ms: i64) -> Self {
        Timestamp(self.0.saturating_add(ms))
    }

    /// Milliseconds from `earlier` to `self` (negative if `earlier` is later).
    pub fn ms_since(self, earlier: Timestamp) -> i64 {
        self.0.saturating_sub(earlier.0)
    }

    /// `(year, month, day)` of this instant in UTC.
    /// Days since 1970-01-01 (UTC): equal for two instants of the same date.
    pub fn day_number(self) -> i64 {
        self.0.div_euclid(MS_PER_DAY)
    }

    pub fn date(self) -> (i32, u32, u32) {
        civil_from_days(self.0.div_euclid(MS_PER_DAY))
    }

    /// Parse the RFC 3339 form this type prints: `YYYY-MM-DDTHH:MM:SS[.fff]Z`.
    /// Also accepts a bare date `YYYY-MM-DD` (midnight UTC).
    pub fn parse_rfc3339(text: &str) -> Result<Self, TimestampError> {
        let bad = || TimestampError {
            text: text.chars().take(64).collect(),
        };
        let b = text.as_bytes();
        let num = |range: std::ops::Range<usize>| -> Result<i64, TimestampError> {
            let digits = b.get(range).ok_or_else(bad)?;
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return Err(bad());
            }
            Ok(digits
                .iter()
                .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0')))
        };
        if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(bad());
        }
        let year = i32::try_from(num(0..4)?).map_err(|_| bad())?;
        let month = u32::try_from(num(5..7)?).map_err(|_| bad())?;
        let day = u32::try_from(num(8..10)?).map_err(|_| bad())?;
        let midnight = Timestamp::from_date(year, month, day).ok_or_else(bad)?;
        if b.len() == 10 {
            return Ok(midnight);
        }
        if b.len() < 20 || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
            return Err(bad());
        }
        let (h, m, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if h > 23 || m > 59 || s > 59 {
            return Err(bad());
        }
        let mut ms = 0i64;
        let mut i = 19;
        if b[i] == b'.' {
            let start = i + 1;
            let mut end = start;
            while end < b.len() && b[end].is_ascii_digit() {
                end += 1;
            }
            if end == start || end - start > 9 {
                return Err(bad());
            }
            // Keep millisecond precision; finer digits are truncated.
            let frac = &b[start..end];
            for k in 0..3 {
                ms = ms * 10 + frac.get(k).map_or(0, |d| i64::from(d - b'0'));
            }
            i = end;
        }
        if i + 1 != b.len() || b[i] != b'Z' {
            return Err(bad());
        }
        Ok(midnight.plus_ms(((h * 60 + m) * 60 + s) * MS_PER_SEC + ms))
    }
}

/// A timestamp that is not in the accepted RFC 3339 form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid timestamp {text:?}: expected RFC 3339 UTC like 2026-11-22T22:59:20.123Z")]
pub struct TimestampError {
    pub text: String,
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0.div_euclid(MS_PER_DAY);
        let in_day = self.0.rem_euclid(MS_PER_DAY);
        let (y, mo, d) = civil_from_days(days);
        let secs = in_day / MS_PER_SEC;
        write!(
            f,
            "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
            secs / 3600,
            secs / 60 % 60,
            secs % 60,
            in_day % MS_PER_SEC
        )
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Timestamp::parse_rfc3339(&text).map_err(serde::de::Error::custom)
    }
}

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i32, m: u32, d: u32) -> i64 {
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y as i32, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_convert_to_milliseconds_without_overflow() {
        assert_eq!(ms_from_secs(0), 0);
        assert_eq!(ms_from_secs(1), 1_000);
        assert_eq!(ms_from_secs(300), 300_000);
        assert_eq!(ms_from_secs(u32::MAX), 4_294_967_295_000);
    }

    #[test]
    fn epoch_and_known_dates() {
        assert_eq!(Timestamp::EPOCH.to_string(), "1970-01-01T00:00:00.000Z");
        let t = Timestamp::from_date(2000, 3, 1).unwrap();
        assert_eq!(t.unix_ms(), 951_868_800_000);
        assert_eq!(t.to_string(), "2000-03-01T00:00:00.000Z");
        assert_eq!(Timestamp::from_date(2023, 2, 29), None);
        assert!(Timestamp::from_date(2024, 2, 29).is_some());
    }

    #[test]
    fn every_day_for_four_centuries_round_trips() {
        let start = days_from_civil(1900, 1, 1);
        let end = days_from_civil(2300, 1, 1);
        let mut expect = (1900, 1, 1);
        for day in start..end {
            assert_eq!(civil_from_days(day), expect);
            assert_eq!(days_from_civil(expect.0, expect.1, expect.2), day);
            let (y, m, d) = expect;
            expect = if d < days_in_month(y, m) {
                (y, m, d + 1)
            } else if m < 12 {
                (y, m + 1, 1)
            } else {
                (y + 1, 1, 1)
            };
        }
    }

    #[test]
    fn parse_round_trips_and_rejects_garbage() {
        for ms in [
            0,
            1,
            999,
            1_763_852_360_123,
            -1,
            -86_400_001,
            4_102_444_799_999,
        ] {
            let t = Timestamp::from_unix_ms(ms);
            assert_eq!(Timestamp::parse_rfc3339(&t.to_string()), Ok(t), "{t}");
        }
        assert_eq!(
            Timestamp::parse_rfc3339("2026-11-22T22:59:20Z")
                .unwrap()
                .to_string(),
            "2026-11-22T22:59:20.000Z"
        );
        assert_eq!(
            Timestamp::parse_rfc3339("2013-03-01").unwrap(),
            Timestamp::from_date(2013, 3, 1).unwrap()
        );
        for bad in [
            "",
            "2026",
            "2026-13-01",
            "2026-02-30T00:00:00Z",
            "2026-11-22T24:00:00Z",
            "2026-11-22T22:59:20",
            "2026-11-22T22:59:20.Z",
            "2026-11-22T22:59:20.123+01:00",
            "2026-11-22 22:59:20Z",
            "२०२६-11-22",
        ] {
            assert!(Timestamp::parse_rfc3339(bad).is_err(), "{bad}");
        }
    }
}

/// A duration for people: `250 ms`, `4.5 s`, `10 min`, `4 min 10 s`, `2 h 5 min`, `3 d 4 h`
/// (never `600000 ms`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Human(pub u64);

impl Human {
    pub fn ms(ms: u64) -> Human {
        Human(ms)
    }
    pub fn secs(secs: u64) -> Human {
        Human(secs.saturating_mul(1000))
    }
}

impl fmt::Display for Human {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0;
        const S: u64 = 1000;
        const MIN: u64 = 60 * S;
        const H: u64 = 60 * MIN;
        const D: u64 = 24 * H;
        let pair = |f: &mut fmt::Formatter<'_>, big: u64, bu: &str, small: u64, su: &str| {
            if small == 0 {
                write!(f, "{big} {bu}")
            } else {
                write!(f, "{big} {bu} {small} {su}")
            }
        };
        if ms < S {
            write!(f, "{ms} ms")
        } else if ms < 10 * S && ms % S != 0 {
            write!(f, "{}.{} s", ms / S, (ms % S) / 100)
        } else if ms < MIN {
            write!(f, "{} s", ms / S)
        } else if ms < H {
            pair(f, ms / MIN, "min", (ms % MIN) / S, "s")
        } else if ms < D {
            pair(f, ms / H, "h", (ms % H) / MIN, "min")
        } else {
            pair(f, ms / D, "d", (ms % D) / H, "h")
        }
    }
}

#[cfg(test)]
mod human_tests {
    use super::Human;

    #[test]
    fn durations_read_as_people_say_them() {
        for (ms, text) in [
            (0, "0 ms"),
            (250, "250 ms"),
            (1_000, "1 s"),
            (4_500, "4.5 s"),
            (31_000, "31 s"),
            (60_000, "1 min"),
            (250_000, "4 min 10 s"),
            (600_000, "10 min"),
            (3_600_000, "1 h"),
            (7_500_000, "2 h 5 min"),
            (86_400_000 * 3 + 3_600_000 * 4, "3 d 4 h"),
        ] {
            assert_eq!(Human(ms).to_string(), text, "{ms}");
        }
    }
}
