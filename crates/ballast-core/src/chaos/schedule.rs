//! The seeded schedules of the chaos modes: at which call, record, write or clock read a fault
//! fires. Pure and deterministic — the same seed and counters give the same faults, so a chaos
//! run is reproducible — and bounded by the `[chaos]` knobs (a window ends, a crash happens
//! once per seq, a share is at most one call in `every`).

use super::ChaosMode;

/// The seeded hash of (seed, mode, n): the one source of every choice below.
fn roll(seed: u64, mode: ChaosMode, n: u64) -> u64 {
    crate::hash::fnv1a(
        seed.to_le_bytes()
            .into_iter()
            .chain(mode.as_str().bytes())
            .chain(n.to_le_bytes()),
    )
}

/// Does `mode`'s fault fire at its `n`th event (a call, a send), for about one in `every`
/// (`every` 1: every event; 0 is read as 1)?
pub fn fires(seed: u64, mode: ChaosMode, n: u64, every: u32) -> bool {
    roll(seed, mode, n) % u64::from(every.max(1)) == 0
}

/// The first call of `broker_down`'s outage: seeded in `1..=4`, so that a start's first calls
/// may still pass and the outage is met mid-run.
pub fn outage_start(seed: u64) -> u64 {
    1 + roll(seed, ChaosMode::BrokerDown, 0) % 4
}

/// Is the broker down at call `n` (1-based)? For `outage_calls` calls from [`outage_start`];
/// `outage_calls` 0: from then on, for the whole run (lifted only by a restart without the
/// mode).
pub fn broker_down(seed: u64, n: u64, outage_calls: u32) -> bool {
    let start = outage_start(seed);
    n >= start && (outage_calls == 0 || n < start + u64::from(outage_calls))
}

/// The journal seq after which `engine_crash` aborts the engine: seeded in
/// `1..=crash_after_records` (0 is read as 1). One seq: a restarted engine is past it and
/// runs on (the crash happens once per data directory, as a real one would).
pub fn crash_seq(seed: u64, crash_after_records: u32) -> u64 {
    1 + roll(seed, ChaosMode::EngineCrash, 0) % u64::from(crash_after_records.max(1))
}

/// How far the skewed clock is ahead at its `n`th read (seconds; 0: true time). It jumps
/// `skew_secs` forward at a seeded read in `1..=64`, stays there for 256 reads, then jumps back.
pub fn skew_secs_at(seed: u64, n: u64, skew_secs: u32) -> i64 {
    const WINDOW_READS: u64 = 256;
    let start = 1 + roll(seed, ChaosMode::ClockSkew, 0) % 64;
    if n >= start && n < start + WINDOW_READS {
        i64::from(skew_secs)
    } else {
        0
    }
}

/// The share of a fill `partial_fills` lets through now, in percent (25, 50 or 75: never the
/// whole, never nothing), when it fires for that fill.
pub fn partial_pct(seed: u64, n: u64) -> u32 {
    25 * (1 + (roll(seed, ChaosMode::PartialFills, n) % 3) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_is_deterministic_and_near_its_share() {
        let hits = (1..=3000)
            .filter(|n| fires(7, ChaosMode::RateLimited, *n, 3))
            .count();
        assert!((800..1200).contains(&hits), "{hits} of 3000 at one in 3");
        let again = (1..=3000)
            .filter(|n| fires(7, ChaosMode::RateLimited, *n, 3))
            .count();
        assert_eq!(hits, again);
        assert!((1..=50).all(|n| fires(7, ChaosMode::SlowBroker, n, 1)));
        let other_seed = (1..=3000)
            .filter(|n| {
                fires(8, ChaosMode::RateLimited, *n, 3) != fires(7, ChaosMode::RateLimited, *n, 3)
            })
            .count();
        assert!(other_seed > 0, "another seed changes the schedule");
    }

    #[test]
    fn a_broker_outage_is_a_bounded_window_unless_asked_for_the_whole_run() {
        for seed in 0..20 {
            let start = outage_start(seed);
            assert!((1..=4).contains(&start));
            let down: Vec<u64> = (1..100).filter(|n| broker_down(seed, *n, 10)).collect();
            assert_eq!(down, (start..start + 10).collect::<Vec<_>>(), "seed {seed}");
            assert!(broker_down(seed, 1_000_000, 0));
            assert!(!broker_down(seed, start - 1, 0));
        }
    }

    #[test]
    fn the_crash_seq_is_within_its_bound() {
        for seed in 0..50 {
            let s = crash_seq(seed, 40);
            assert!((1..=40).contains(&s), "seed {seed}: {s}");
        }
        assert_eq!(crash_seq(3, 0), 1);
        assert_eq!(crash_seq(9, 40), crash_seq(9, 40));
    }

    #[test]
    fn the_clock_jumps_forward_once_then_back() {
        let offsets: Vec<i64> = (0..400).map(|n| skew_secs_at(5, n, 300)).collect();
        let ahead = offsets.iter().filter(|o| **o == 300).count();
        assert_eq!(ahead, 256);
        let jumps = offsets.windows(2).filter(|w| w[0] != w[1]).count();
        assert_eq!(jumps, 2, "one jump forward, one back");
    }

    #[test]
    fn a_partial_fill_is_never_all_or_nothing() {
        for n in 0..100 {
            assert!([25, 50, 75].contains(&partial_pct(1, n)));
        }
    }
}
