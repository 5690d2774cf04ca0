//! What the engine measures of itself for the metrics (issue 13 item 7), carried in its
//! heartbeat beside [`super::EngineStatus`]: counters folded from its state, the journal's sync
//! latency as a fixed-bucket histogram, the loop's lag behind its pace, and the age of its
//! oldest order in flight. Everything here is bounded: the histogram has a fixed number of
//! buckets, the rejections one entry per guard check, the in-flight ages one per tracked order.
//! Pure: times are given.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{EngineState, SendState};
use crate::Timestamp;
use crate::domain::ClientOrderId;

/// Upper bounds (inclusive, microseconds) of the journal sync latency buckets: 50 µs to 1 s, a
/// sync slower than the last one counts in the overflow bucket only.
pub const SYNC_BUCKETS_US: [u64; 14] = [
    50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000,
];

/// A latency histogram: one count per bucket (not cumulative) and one overflow count, with the
/// bounds written beside them so a reader never depends on this binary's constant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Histogram {
    /// The buckets' upper bounds in microseconds, ascending.
    pub le_us: Vec<u64>,
    /// Observations in each bucket (`counts[i]`: above `le_us[i-1]`, at most `le_us[i]`), then
    /// one more: those above the last bound.
    pub counts: Vec<u64>,
    pub sum_us: u64,
    pub count: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram::new(&SYNC_BUCKETS_US)
    }
}

impl Histogram {
    pub fn new(bounds_us: &[u64]) -> Histogram {
        Histogram {
            le_us: bounds_us.to_vec(),
            counts: vec![0; bounds_us.len() + 1],
            sum_us: 0,
            count: 0,
        }
    }

    /// Count one observation (counters saturate; they never wrap).
    pub fn observe(&mut self, took: Duration) {
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let i = self.le_us.partition_point(|&le| le < us);
        if let Some(c) = self.counts.get_mut(i) {
            *c = c.saturating_add(1);
        }
        self.sum_us = self.sum_us.saturating_add(us);
        self.count = self.count.saturating_add(1);
    }

    /// Whether the shape is one a reader may trust: ascending bounds and one count more than
    /// bounds (a heartbeat is outside input).
    pub fn is_well_formed(&self) -> bool {
        self.counts.len() == self.le_us.len() + 1 && self.le_us.windows(2).all(|w| w[0] < w[1])
    }

    /// The cumulative counts at each bound (Prometheus' `le` buckets), the total last.
    pub fn cumulative(&self) -> Vec<(u64, u64)> {
        let mut total = 0u64;
        self.le_us
            .iter()
            .zip(&self.counts)
            .map(|(&le, &c)| {
                total = total.saturating_add(c);
                (le, total)
            })
            .collect()
    }
}

/// The ages of the orders in flight (journaled, not yet confirmed by the venue: an intent not
/// sent, or a send without an answer), by when the engine first saw each in flight. One entry
/// per tracked order: pruned to the orders in flight at every update.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InFlightAges {
    first_seen: BTreeMap<ClientOrderId, Timestamp>,
}

impl InFlightAges {
    /// Follow `state`'s orders at `now`; the age in milliseconds of the oldest in flight (0
    /// when none is).
    pub fn update(&mut self, state: &EngineState, now: Timestamp) -> u64 {
        let in_flight: Vec<&ClientOrderId> = state
            .orders
            .tracked
            .iter()
            .filter(|(_, t)| matches!(t.send, SendState::Intent | SendState::Unknown { .. }))
            .map(|(id, _)| id)
            .collect();
        self.first_seen.retain(|id, _| in_flight.contains(&id));
        for id in in_flight {
            self.first_seen.entry(id.clone()).or_insert(now);
        }
        self.first_seen
            .values()
            .min()
            .map_or(0, |since| now.ms_since(*since).max(0).unsigned_abs())
    }
}

/// The engine's own figures, as its heartbeat carries them (absent in older heartbeats: zero).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EngineFigures {
    /// Orders journaled (intents) and fills booked since the journal began.
    pub orders: u64,
    pub fills: u64,
    /// Guard rejections by check since the journal began.
    pub rejections: BTreeMap<String, u64>,
    /// The engine journal's write + sync latency, since this engine process started.
    pub journal_sync: Histogram,
    /// How late the last loop ended behind its pace (0 when on time or unpaced).
    pub loop_lag_ms: u64,
    /// The age of the oldest order in flight (0 when none is).
    pub oldest_in_flight_ms: u64,
}

impl EngineState {
    /// The figures folded from the state; the runtime adds what it measures.
    pub fn figures(&self) -> EngineFigures {
        EngineFigures {
            orders: self.stats.orders,
            fills: self.stats.fills,
            rejections: self.stats.rejections.clone(),
            ..EngineFigures::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_their_bucket_and_the_cumulative_counts_add_up() {
        let mut h = Histogram::new(&[100, 1_000]);
        for us in [10, 100, 101, 1_000, 5_000] {
            h.observe(Duration::from_micros(us));
        }
        assert_eq!(h.counts, [2, 2, 1]);
        assert_eq!(h.cumulative(), [(100, 2), (1_000, 4)]);
        assert_eq!((h.count, h.sum_us), (5, 6_211));
        assert!(h.is_well_formed());
        let bad = Histogram {
            counts: vec![1],
            ..h.clone()
        };
        assert!(!bad.is_well_formed());
    }

    #[test]
    fn the_default_histogram_has_the_sync_buckets() {
        let h = Histogram::default();
        assert_eq!(h.le_us, SYNC_BUCKETS_US);
        assert_eq!(h.counts.len(), SYNC_BUCKETS_US.len() + 1);
    }
}
