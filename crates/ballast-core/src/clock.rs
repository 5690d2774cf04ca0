//! The injected clock. Every decision that depends on time takes a [`Clock`] (or a
//! [`Timestamp`]) so that tests and backtests run on virtual time.
//!
//! The wall clock (`SystemClock`) lives in `ballast-store`, a shell crate: this crate never
//! reads the time of day itself.

use std::sync::atomic::{AtomicI64, Ordering};

use crate::time::Timestamp;

/// A source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> Timestamp;
}

/// A clock that moves only when told to: for tests, simulations and backtests.
#[derive(Debug, Default)]
pub struct ManualClock {
    unix_ms: AtomicI64,
}

impl ManualClock {
    pub fn new(start: Timestamp) -> Self {
        ManualClock {
            unix_ms: AtomicI64::new(start.unix_ms()),
        }
    }

    pub fn set(&self, t: Timestamp) {
        self.unix_ms.store(t.unix_ms(), Ordering::SeqCst);
    }

    pub fn advance_ms(&self, ms: i64) {
        self.unix_ms.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix_ms(self.unix_ms.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new(Timestamp::from_unix_ms(1_000));
        assert_eq!(c.now().unix_ms(), 1_000);
        c.advance_ms(250);
        assert_eq!(c.now().unix_ms(), 1_250);
        c.set(Timestamp::EPOCH);
        assert_eq!(c.now(), Timestamp::EPOCH);
    }
}
