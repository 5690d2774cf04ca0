//! An error rate over a sliding window of time, from two ever-growing counters (errors and
//! attempts, as the engine's journal keeps them). A rate counted since the journal began
//! never decays: after a burst of sends without an answer the broker's error rate stayed
//! CRITICAL, and the policy it set (DEFENSIVE_EXIT) allowed no sends that could lower it —
//! trading stayed halted with no operator asked (found by `ballast chaos`, scenario
//! `lost_reply`). Over a window, the burst leaves it once it is older than the window. Pure:
//! the caller passes the time and the counters.

use std::collections::VecDeque;

use crate::Timestamp;

/// The window of the broker's send error rate.
pub const SEND_ERRORS_WINDOW_MS: i64 = 60_000;
/// Samples kept at most (one per health cycle; at the bound the oldest goes first, which
/// only shortens the window).
pub const MAX_SAMPLES: usize = 4_096;

/// Samples of `(at, errors, attempts)` over the window.
#[derive(Debug, Clone)]
pub struct RateWindow {
    window_ms: i64,
    samples: VecDeque<(Timestamp, u64, u64)>,
}

impl RateWindow {
    pub fn new(window_ms: i64) -> RateWindow {
        RateWindow {
            window_ms,
            samples: VecDeque::new(),
        }
    }

    /// The counters at `at`. Counters that went down (another journal) start the window over.
    pub fn observe(&mut self, at: Timestamp, errors: u64, attempts: u64) {
        if self
            .samples
            .back()
            .is_some_and(|(_, e, a)| errors < *e || attempts < *a)
        {
            self.samples.clear();
        }
        self.samples.push_back((at, errors, attempts));
        // Keep one sample at or before the window's start: the base the window counts from.
        while self.samples.len() > 1
            && self
                .samples
                .get(1)
                .is_some_and(|(t, _, _)| at.ms_since(*t) >= self.window_ms)
        {
            self.samples.pop_front();
        }
        while self.samples.len() > MAX_SAMPLES {
            self.samples.pop_front();
        }
    }

    /// Errors and attempts within the window (since the first sample while it is shorter).
    pub fn recent(&self) -> (u64, u64) {
        match (self.samples.front(), self.samples.back()) {
            (Some((_, e0, a0)), Some((_, e1, a1))) => {
                (e1.saturating_sub(*e0), a1.saturating_sub(*a0))
            }
            _ => (0, 0),
        }
    }

    /// The window's length.
    pub fn window_ms(&self) -> i64 {
        self.window_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_unix_ms(s * 1000)
    }

    #[test]
    fn a_burst_of_errors_leaves_the_rate_once_older_than_the_window() {
        let mut w = RateWindow::new(60_000);
        w.observe(at(0), 0, 10);
        w.observe(at(5), 7, 18);
        assert_eq!(w.recent(), (7, 8), "the burst counts while it is recent");
        // No sends since: the counters stand still.
        w.observe(at(30), 7, 18);
        assert_eq!(w.recent(), (7, 8));
        w.observe(at(66), 7, 18);
        assert_eq!(w.recent(), (0, 0), "older than the window: gone");
        w.observe(at(70), 8, 20);
        assert_eq!(w.recent(), (1, 2));
    }

    #[test]
    fn counters_that_go_down_start_over_and_the_samples_are_bounded() {
        let mut w = RateWindow::new(60_000);
        w.observe(at(0), 5, 10);
        w.observe(at(1), 0, 2);
        assert_eq!(w.recent(), (0, 0));
        for i in 0..(MAX_SAMPLES as i64 + 10) {
            w.observe(Timestamp::from_unix_ms(2_000 + i), 0, 2 + i as u64);
        }
        assert!(w.samples.len() <= MAX_SAMPLES);
        assert_eq!(w.window_ms(), 60_000);
    }
}
