//! The fake's time: wall-clock microseconds that strictly increase by at least a millisecond
//! per event, so two changes never share a timestamp (even at a client's millisecond
//! precision) and Alpaca-style pagination on `submitted_at` is unambiguous. Formatting and
//! parsing of RFC 3339 (Alpaca writes order times in UTC with microseconds, `…Z`; the clock's
//! times with a New York offset, `-05:00`).

use std::time::{SystemTime, UNIX_EPOCH};

use ballast_core::time::Timestamp;

/// Microseconds since the Unix epoch.
pub type Micros = i64;

const US_PER_MS: i64 = 1_000;
const US_PER_SEC: i64 = 1_000_000;

/// A clock whose readings strictly increase (by at least 1 ms).
#[derive(Debug, Default)]
pub struct EventClock {
    last_us: Micros,
}

impl EventClock {
    /// The next event's time: the wall clock, or 1 ms after the previous event if the wall
    /// clock has not moved that far (or went backwards).
    pub fn next(&mut self) -> Micros {
        let now = wall_us();
        self.last_us = now.max(self.last_us.saturating_add(US_PER_MS));
        self.last_us
    }
}

/// The wall clock in microseconds (0 if the system clock is before 1970).
#[allow(clippy::disallowed_methods)]
pub fn wall_us() -> Micros {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

/// `2026-12-01T19:39:23.123456Z`.
pub fn utc(us: Micros) -> String {
    let ms = Timestamp::from_unix_ms(us.div_euclid(US_PER_MS)).to_string();
    // Timestamp prints `…SS.mmmZ`: append the microseconds.
    let micro = us.rem_euclid(US_PER_MS);
    format!("{}{micro:03}Z", ms.trim_end_matches('Z'))
}

/// `2026-12-01T14:39:23-05:00` (whole seconds, the offset Alpaca's clock uses in winter; the
/// fake does not model daylight saving time).
pub fn new_york(us: Micros) -> String {
    let shifted = us.saturating_sub(5 * 3600 * US_PER_SEC);
    let text = Timestamp::from_unix_ms(shifted.div_euclid(US_PER_MS)).to_string();
    let secs = text.get(..19).unwrap_or(&text);
    format!("{secs}-05:00")
}

/// RFC 3339 with `Z` or a `±HH:MM` offset, up to 9 fractional digits (kept to microseconds),
/// or a bare date (midnight UTC). `None` when it is none of these.
pub fn parse(text: &str) -> Option<Micros> {
    let text = text.trim();
    if text.len() == 10 {
        return Timestamp::parse_rfc3339(text)
            .ok()
            .map(|t| t.unix_ms() * US_PER_MS);
    }
    let (body, offset_secs) = split_offset(text)?;
    let (whole, frac) = match body.split_once('.') {
        Some((w, f)) => (w, f),
        None => (body, ""),
    };
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let base = Timestamp::parse_rfc3339(&format!("{whole}Z")).ok()?;
    let micros: i64 = frac
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(6)
        .fold(0, |acc, d| acc * 10 + i64::from(d - b'0'));
    Some(base.unix_ms() * US_PER_MS + micros - offset_secs * US_PER_SEC)
}

/// The text before the zone designator and the zone's offset east of UTC in seconds.
fn split_offset(text: &str) -> Option<(&str, i64)> {
    if let Some(body) = text.strip_suffix('Z').or_else(|| text.strip_suffix('z')) {
        return Some((body, 0));
    }
    let at = text.len().checked_sub(6)?;
    let (body, zone) = text.split_at_checked(at)?;
    let zb = zone.as_bytes();
    let sign = match zb.first() {
        // A `+` sent unencoded in a query string arrives as a space.
        Some(b'+' | b' ') => 1,
        Some(b'-') => -1,
        _ => return None,
    };
    if zb.get(3) != Some(&b':') {
        return None;
    }
    let h: i64 = zone.get(1..3)?.parse().ok()?;
    let m: i64 = zone.get(4..6)?.parse().ok()?;
    if h > 23 || m > 59 {
        return None;
    }
    Some((body, sign * (h * 3600 + m * 60)))
}

/// Whole milliseconds (for `Seen::at_ms`).
pub fn ms(us: Micros) -> i64 {
    us.div_euclid(US_PER_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_back() {
        let us = 1_764_617_963_123_456;
        let text = utc(us);
        assert_eq!(text, "2025-12-01T19:39:23.123456Z");
        assert_eq!(parse(&text), Some(us));
        assert_eq!(new_york(us), "2025-12-01T14:39:23-05:00");
        assert_eq!(parse(&new_york(us)), Some(us - 123_456));
        assert_eq!(parse("2025-12-01T20:39:23.1+01:00"), Some(us - 23_456));
        assert_eq!(parse("2025-12-01T20:39:23.1 01:00"), Some(us - 23_456));
        assert_eq!(parse("2025-12-01"), Some(1_764_547_200_000_000));
        assert_eq!(parse("yesterday"), None);
        assert_eq!(parse("2025-12-01T19:39:23+0100"), None);
    }

    #[test]
    fn events_strictly_increase() {
        let mut c = EventClock::default();
        let a = c.next();
        let b = c.next();
        assert!(b >= a + US_PER_MS);
    }
}
