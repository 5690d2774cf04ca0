//! The client-side rate limiter: how many requests may go to the venue, and when, on an
//! injected time. Alpaca allows 200 requests a minute per key (ALPACA.md); Ballast keeps below
//! it (default 180) with a sliding window — a log of the grants of the last window, so no
//! window of that length, wherever it starts, holds more than the limit — and adopts what the
//! server says: `X-RateLimit-Limit` (a lower limit than ours shrinks ours to 90 % of it),
//! `X-RateLimit-Remaining` / `X-RateLimit-Reset` (no more than the remaining until the reset),
//! and a 429's `Retry-After` (nothing goes until then).
//!
//! Two priorities: [`Priority::Urgent`] (order submits and cancels) may use the whole limit;
//! [`Priority::Polling`] (every read) leaves the reserve free ([`BudgetConfig::reserve`],
//! default a ninth of the limit: 20 of 180). When the budget runs low, polling waits first and
//! an order still goes.
//!
//! Bounds: the log holds at most `limit` grants (older ones are dropped as they leave the
//! window); a wait the server asks for is capped at [`MAX_BLOCK_MS`], its reset at one window
//! ahead (a skewed clock cannot stop the client for longer).

use std::collections::VecDeque;

use crate::time::Timestamp;

/// The largest limit a configuration may set (it bounds the log).
pub const MAX_LIMIT_PER_WINDOW: u32 = 1_000;
/// The longest a 429's `Retry-After` blocks every request.
pub const MAX_BLOCK_MS: i64 = 60_000;
/// A 429 without `Retry-After` nor `X-RateLimit-Reset` blocks this long.
pub const DEFAULT_BLOCK_MS: i64 = 1_000;

/// Who asks for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Priority {
    /// An order submit or cancel: may use the reserve.
    Urgent,
    /// A read (orders, positions, account, clock, bars): leaves the reserve free.
    Polling,
}

/// The budget's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetConfig {
    /// Requests per window at most (default 180, below Alpaca's 200 a minute).
    pub limit: u32,
    /// Of those, kept for submits and cancels (polling may use `limit - reserve`).
    pub reserve: u32,
    /// The window (default one minute).
    pub window_ms: i64,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        BudgetConfig::per_minute(180)
    }
}

impl BudgetConfig {
    /// `limit` requests a minute with the default reserve (a ninth, at least one).
    pub fn per_minute(limit: u32) -> BudgetConfig {
        BudgetConfig {
            limit,
            reserve: (limit / 9).max(1).min(limit.saturating_sub(1)),
            window_ms: 60_000,
        }
    }

    /// The settings' relations, in words when broken.
    pub fn validate(&self) -> Result<(), String> {
        if self.limit == 0 || self.limit > MAX_LIMIT_PER_WINDOW {
            return Err(format!(
                "the rate limit is {} requests per window; it must be 1 to {MAX_LIMIT_PER_WINDOW} (keep it below the venue's: Alpaca allows 200 a minute)",
                self.limit
            ));
        }
        if self.reserve >= self.limit {
            return Err(format!(
                "the reserve for orders ({}) must be below the rate limit ({}), or polling could never go",
                self.reserve, self.limit
            ));
        }
        if self.window_ms <= 0 {
            return Err(format!(
                "the rate window is {} ms; it must be positive",
                self.window_ms
            ));
        }
        Ok(())
    }
}

/// What a response said about the server's rate limit (each header absent or unreadable is
/// `None`: the budget then keeps its own count).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerHint {
    /// `X-RateLimit-Limit`.
    pub limit: Option<u32>,
    /// `X-RateLimit-Remaining`.
    pub remaining: Option<u32>,
    /// `X-RateLimit-Reset` (epoch seconds).
    pub reset_epoch_s: Option<i64>,
    /// `Retry-After` (seconds; the HTTP-date form is not read).
    pub retry_after_s: Option<u64>,
    /// The answer was a 429.
    pub throttled: bool,
}

impl ServerHint {
    /// Read the headers through `header(name)` (any case handling is the caller's).
    pub fn from_headers<'a>(header: impl Fn(&str) -> Option<&'a str>, status: u16) -> ServerHint {
        fn num<T: std::str::FromStr>(v: Option<&str>) -> Option<T> {
            v.and_then(|t| t.trim().parse().ok())
        }
        ServerHint {
            limit: num(header("x-ratelimit-limit")),
            remaining: num(header("x-ratelimit-remaining")),
            reset_epoch_s: num(header("x-ratelimit-reset")),
            retry_after_s: num(header("retry-after")),
            throttled: status == 429,
        }
    }

    /// How long the server asks to wait before the next request, from `now` (a 429's
    /// `Retry-After`, else the time to its reset; `None` if it asks nothing).
    pub fn wait_ms(&self, now: Timestamp) -> Option<u64> {
        if let Some(s) = self.retry_after_s {
            return Some(s.saturating_mul(1_000));
        }
        if self.throttled || self.remaining == Some(0) {
            let reset = self.reset_epoch_s?.saturating_mul(1_000);
            return Some(u64::try_from(reset.saturating_sub(now.unix_ms())).unwrap_or(0));
        }
        None
    }
}

/// The server's own window, as last reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ServerWindow {
    /// Requests it still allows before `reset_at`, less those granted since.
    remaining: u32,
    reset_at: Timestamp,
}

/// The rate budget (see the module doc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    cfg: BudgetConfig,
    /// The limit in force: ours, or 90 % of a lower one the server reported.
    limit: u32,
    granted: VecDeque<Timestamp>,
    server: Option<ServerWindow>,
    blocked_until: Option<Timestamp>,
}

impl Budget {
    pub fn new(cfg: BudgetConfig) -> Result<Budget, String> {
        cfg.validate()?;
        Ok(Budget {
            cfg,
            limit: cfg.limit,
            granted: VecDeque::with_capacity(cfg.limit as usize),
            server: None,
            blocked_until: None,
        })
    }

    pub fn config(&self) -> BudgetConfig {
        self.cfg
    }

    /// How many a priority may have in one window.
    fn cap(&self, priority: Priority) -> u32 {
        let reserve = self.cfg.reserve.min(self.limit.saturating_sub(1));
        match priority {
            Priority::Urgent => self.limit,
            Priority::Polling => self.limit - reserve,
        }
    }

    fn in_window(&self, now: Timestamp) -> impl Iterator<Item = &Timestamp> {
        let start = now.plus_ms(-self.cfg.window_ms);
        self.granted.iter().filter(move |t| **t > start)
    }

    /// Milliseconds until a request of `priority` may go (0: now).
    pub fn wait_ms(&self, priority: Priority, now: Timestamp) -> u64 {
        let mut until = now;
        if let Some(b) = self.blocked_until {
            until = until.max(b);
        }
        let cap = self.cap(priority) as usize;
        let recent: Vec<&Timestamp> = self.in_window(now).collect();
        if recent.len() >= cap {
            // The first `len - cap + 1` grants must leave the window.
            until = until.max(recent[recent.len() - cap].plus_ms(self.cfg.window_ms));
        }
        if let Some(s) = self.server {
            let keep = match priority {
                Priority::Urgent => 0,
                Priority::Polling => self.cfg.reserve,
            };
            if s.remaining <= keep && now < s.reset_at {
                until = until.max(s.reset_at);
            }
        }
        u64::try_from(until.ms_since(now)).unwrap_or(0)
    }

    /// Take one request of `priority` now, or say how long to wait first (nothing taken).
    pub fn take(&mut self, priority: Priority, now: Timestamp) -> Result<(), u64> {
        let wait = self.wait_ms(priority, now);
        if wait > 0 {
            return Err(wait);
        }
        let start = now.plus_ms(-self.cfg.window_ms);
        while self.granted.front().is_some_and(|t| *t <= start) {
            self.granted.pop_front();
        }
        // Bounded: a grant is refused above the cap, and the cap is at most `limit`.
        if self.granted.len() >= self.cfg.limit as usize {
            self.granted.pop_front();
        }
        self.granted.push_back(now);
        if let Some(s) = self.server.as_mut() {
            if now >= s.reset_at {
                self.server = None;
            } else {
                s.remaining = s.remaining.saturating_sub(1);
            }
        }
        if self.blocked_until.is_some_and(|b| b <= now) {
            self.blocked_until = None;
        }
        Ok(())
    }

    /// Adopt what a response's headers said.
    pub fn observe(&mut self, hint: &ServerHint, now: Timestamp) {
        if let Some(server_limit) = hint.limit.filter(|l| *l > 0) {
            let ninety = (u64::from(server_limit) * 9 / 10).max(1) as u32;
            self.limit = self.cfg.limit.min(ninety);
        }
        let horizon = now.plus_ms(self.cfg.window_ms);
        let reset_at = hint
            .reset_epoch_s
            .map(|s| Timestamp::from_unix_ms(s.saturating_mul(1_000)).clamp(now, horizon));
        // A 429's Retry-After is the server's own word on when to come back: it wins over its
        // window's count. Without a reset there is no window to hold a count to.
        let told_when = hint.throttled && hint.retry_after_s.is_some();
        match (hint.remaining, reset_at) {
            (Some(remaining), Some(reset_at)) if reset_at > now && !told_when => {
                self.server = Some(ServerWindow {
                    remaining,
                    reset_at,
                });
            }
            _ => {}
        }
        if hint.throttled {
            let wait = match (hint.retry_after_s, reset_at) {
                (Some(s), _) => i64::try_from(s.saturating_mul(1_000)).unwrap_or(MAX_BLOCK_MS),
                (None, Some(r)) => r.ms_since(now).max(DEFAULT_BLOCK_MS),
                (None, None) => DEFAULT_BLOCK_MS,
            };
            let until = now.plus_ms(wait.clamp(0, MAX_BLOCK_MS));
            self.blocked_until = Some(self.blocked_until.map_or(until, |b| b.max(until)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_unix_ms(1_800_000_000_000 + ms)
    }

    #[test]
    fn the_default_keeps_below_alpacas_limit_with_a_reserve_for_orders() {
        let cfg = BudgetConfig::default();
        assert_eq!((cfg.limit, cfg.reserve, cfg.window_ms), (180, 20, 60_000));
        assert!(cfg.validate().is_ok());
        assert!(BudgetConfig { limit: 0, ..cfg }.validate().is_err());
        assert!(
            BudgetConfig {
                reserve: 180,
                ..cfg
            }
            .validate()
            .is_err()
        );
        assert_eq!(
            BudgetConfig::per_minute(1).reserve,
            0,
            "a limit of one has no room for a reserve"
        );
    }

    #[test]
    fn polling_waits_first_and_orders_use_the_reserve() {
        let mut b = Budget::new(BudgetConfig {
            limit: 10,
            reserve: 3,
            window_ms: 1_000,
        })
        .unwrap();
        for i in 0..7 {
            assert_eq!(b.take(Priority::Polling, at(i)), Ok(()), "poll {i}");
        }
        assert_eq!(
            b.take(Priority::Polling, at(7)),
            Err(993),
            "polling waits for the first to leave"
        );
        for i in 0..3 {
            assert_eq!(b.take(Priority::Urgent, at(7 + i)), Ok(()), "order {i}");
        }
        assert!(
            b.take(Priority::Urgent, at(10)).is_err(),
            "the limit holds for orders too"
        );
        assert_eq!(b.wait_ms(Priority::Urgent, at(10)), 990);
        assert_eq!(
            b.take(Priority::Urgent, at(1_000)),
            Ok(()),
            "the first grant left the window"
        );
    }

    #[test]
    fn a_429_blocks_until_retry_after() {
        let mut b = Budget::new(BudgetConfig::default()).unwrap();
        let hint = ServerHint::from_headers(
            |h| match h {
                "retry-after" => Some("3"),
                "x-ratelimit-remaining" => Some("0"),
                _ => None,
            },
            429,
        );
        assert_eq!(hint.wait_ms(at(0)), Some(3_000));
        b.observe(&hint, at(0));
        assert_eq!(b.take(Priority::Urgent, at(10)), Err(2_990));
        assert_eq!(b.take(Priority::Urgent, at(3_000)), Ok(()));
        // With a window that resets later, the Retry-After still decides.
        let reset = (at(0).unix_ms() / 1_000 + 50).to_string();
        let hint = ServerHint::from_headers(
            |h| match h {
                "retry-after" => Some("1"),
                "x-ratelimit-remaining" => Some("0"),
                "x-ratelimit-reset" => Some(reset.as_str()),
                _ => None,
            },
            429,
        );
        b.observe(&hint, at(4_000));
        assert_eq!(b.wait_ms(Priority::Polling, at(4_000)), 1_000);
    }

    #[test]
    fn the_servers_remaining_and_reset_are_adopted() {
        let mut b = Budget::new(BudgetConfig::default()).unwrap();
        let reset_s = at(5_000).unix_ms() / 1_000;
        let reset_text = reset_s.to_string();
        let hint = ServerHint::from_headers(
            |h| match h {
                "x-ratelimit-limit" => Some("200"),
                "x-ratelimit-remaining" => Some("21"),
                "x-ratelimit-reset" => Some(reset_text.as_str()),
                _ => None,
            },
            200,
        );
        b.observe(&hint, at(0));
        assert_eq!(
            b.take(Priority::Polling, at(1)),
            Ok(()),
            "21 left: above the reserve of 20"
        );
        let wait = b.take(Priority::Polling, at(2)).unwrap_err();
        assert_eq!(
            i64::try_from(wait).unwrap(),
            reset_s * 1_000 - at(2).unix_ms()
        );
        for i in 0..20 {
            assert_eq!(
                b.take(Priority::Urgent, at(3 + i)),
                Ok(()),
                "orders use what is left"
            );
        }
        assert!(
            b.take(Priority::Urgent, at(30)).is_err(),
            "none left until the reset"
        );
        assert_eq!(
            b.take(Priority::Polling, at(reset_s * 1_000 - at(0).unix_ms())),
            Ok(())
        );
    }

    #[test]
    fn a_lower_server_limit_shrinks_ours() {
        let mut b = Budget::new(BudgetConfig {
            limit: 180,
            reserve: 20,
            window_ms: 1_000,
        })
        .unwrap();
        b.observe(
            &ServerHint {
                limit: Some(100),
                ..ServerHint::default()
            },
            at(0),
        );
        let granted = (0..200)
            .filter(|i| b.take(Priority::Urgent, at(*i)).is_ok())
            .count();
        assert_eq!(granted, 90);
    }

    #[derive(Debug, Clone)]
    enum Step {
        Ask {
            urgent: bool,
            advance_ms: i64,
        },
        Hint {
            remaining: u32,
            reset_in_s: i64,
            throttled: bool,
            retry_after_s: Option<u64>,
        },
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            8 => (any::<bool>(), 0i64..400).prop_map(|(urgent, advance_ms)| Step::Ask { urgent, advance_ms }),
            1 => (0u32..50, -5i64..120, any::<bool>(), proptest::option::of(0u64..5)).prop_map(
                |(remaining, reset_in_s, throttled, retry_after_s)| Step::Hint { remaining, reset_in_s, throttled, retry_after_s }
            ),
        ]
    }

    proptest! {
        #[test]
        fn no_window_ever_holds_more_than_the_limit(
            limit in 1u32..40,
            reserve_frac in 0u32..5,
            steps in proptest::collection::vec(step(), 1..600),
        ) {
            let window_ms = 10_000;
            let reserve = (limit * reserve_frac / 10).min(limit - 1);
            let mut b = Budget::new(BudgetConfig { limit, reserve, window_ms }).unwrap();
            let mut now = at(0);
            let mut grants: Vec<(Timestamp, bool)> = Vec::new();
            for s in steps {
                match s {
                    Step::Ask { urgent, advance_ms } => {
                        now = now.plus_ms(advance_ms);
                        let p = if urgent { Priority::Urgent } else { Priority::Polling };
                        match b.take(p, now) {
                            Ok(()) => grants.push((now, urgent)),
                            Err(wait) => prop_assert!(wait > 0),
                        }
                    }
                    Step::Hint { remaining, reset_in_s, throttled, retry_after_s } => {
                        let hint = ServerHint {
                            limit: None,
                            remaining: Some(remaining),
                            reset_epoch_s: Some(now.unix_ms() / 1_000 + reset_in_s),
                            retry_after_s,
                            throttled,
                        };
                        b.observe(&hint, now);
                    }
                }
            }
            for (i, (t, _)) in grants.iter().enumerate() {
                let in_window: Vec<_> = grants[i..].iter().take_while(|(u, _)| u.ms_since(*t) < window_ms).collect();
                prop_assert!(in_window.len() <= limit as usize, "{} grants in the window from {t}", in_window.len());
                let polls = in_window.iter().filter(|(_, urgent)| !urgent).count();
                prop_assert!(polls <= (limit - reserve) as usize, "polling took the reserve: {polls}");
            }
        }
    }
}
