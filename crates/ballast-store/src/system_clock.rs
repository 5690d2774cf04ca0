//! The wall clock: the only place in Ballast's libraries that reads the time of day.

use std::time::{SystemTime, UNIX_EPOCH};

use ballast_core::{Clock, Timestamp};

/// The operating system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl SystemClock {
    /// The time now as RFC 3339 text, for log lines.
    pub fn now_string(&self) -> String {
        self.now().to_string()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let ms = match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
        };
        Timestamp::from_unix_ms(ms)
    }
}
