//! Alpaca's rate limit, as the fake enforces it: `limit` requests per minute per key (200 by
//! default), in fixed one-minute windows starting at the window's first request. Every
//! authenticated answer carries `X-RateLimit-Limit`, `X-RateLimit-Remaining` and
//! `X-RateLimit-Reset` (epoch seconds at which the window ends); a request beyond the limit is
//! answered 429 with `Retry-After` (whole seconds to the reset) and does nothing. Pure: the
//! time comes in.

use crate::clock::Micros;

const WINDOW_US: Micros = 60_000_000;
const US_PER_SEC: Micros = 1_000_000;

/// One key's window.
#[derive(Debug, Clone, Default)]
pub struct RateWindow {
    start_us: Micros,
    used: u32,
}

/// The verdict on one request, and the headers to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateVerdict {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    pub reset_epoch_s: i64,
    pub retry_after_s: i64,
}

impl RateWindow {
    /// Count a request at `now_us` against `limit` per minute.
    pub fn hit(&mut self, now_us: Micros, limit: u32) -> RateVerdict {
        if self.used == 0 || now_us >= self.start_us + WINDOW_US || now_us < self.start_us {
            self.start_us = now_us;
            self.used = 0;
        }
        let allowed = self.used < limit;
        if allowed {
            self.used += 1;
        }
        let end = self.start_us + WINDOW_US;
        RateVerdict {
            allowed,
            limit,
            remaining: limit.saturating_sub(self.used),
            reset_epoch_s: (end + US_PER_SEC - 1).div_euclid(US_PER_SEC),
            retry_after_s: ((end - now_us) + US_PER_SEC - 1)
                .div_euclid(US_PER_SEC)
                .max(1),
        }
    }

    /// The headers of a verdict.
    pub fn headers(v: &RateVerdict) -> [(&'static str, String); 3] {
        [
            ("x-ratelimit-limit", v.limit.to_string()),
            ("x-ratelimit-remaining", v.remaining.to_string()),
            ("x-ratelimit-reset", v.reset_epoch_s.to_string()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_holds_for_a_minute_then_resets() {
        let mut w = RateWindow::default();
        let t0 = 1_000 * US_PER_SEC;
        for i in 0..3 {
            let v = w.hit(t0 + i, 3);
            assert!(v.allowed);
            assert_eq!(v.remaining, 2 - u32::try_from(i).unwrap());
        }
        let refused = w.hit(t0 + 30 * US_PER_SEC, 3);
        assert!(!refused.allowed);
        assert_eq!(refused.remaining, 0);
        assert_eq!(refused.retry_after_s, 30);
        assert_eq!(refused.reset_epoch_s, 1_060);
        assert!(w.hit(t0 + WINDOW_US, 3).allowed);
    }
}
