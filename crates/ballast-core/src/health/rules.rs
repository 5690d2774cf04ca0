//! The thresholds of the built-in checks: what a measured figure means, decided here so the
//! monitor only measures (SPEC principle 8).

use super::{Status, at_most};
use crate::heal::FailureClass;

/// CPU use at or above this is CRITICAL (unless the degraded threshold is 100: report only).
pub const CPU_CRITICAL_PCT: u64 = 98;
/// Memory use at or above this is CRITICAL (likewise).
pub const MEMORY_CRITICAL_PCT: u64 = 97;
/// Open file descriptors, in percent of the limit.
pub const FDS_DEGRADED_PCT: u64 = 80;
pub const FDS_CRITICAL_PCT: u64 = 95;

/// A level with a configured degraded threshold and a usual critical one; a degraded threshold
/// of 100 makes the check report the figure only.
pub fn level(value_pct: u64, degraded_pct: u32, critical_pct: u64) -> Status {
    let critical = if degraded_pct >= 100 {
        u64::MAX
    } else {
        critical_pct.max(u64::from(degraded_pct))
    };
    at_most(value_pct, degraded_pct.into(), critical)
}

/// Free disk space: below `min_pct` DEGRADED, below a third of it CRITICAL (0: report only).
pub fn disk_free(free_pct: u64, min_pct: u32) -> Status {
    let min = u64::from(min_pct);
    if free_pct < min / 3 {
        Status::Critical
    } else if free_pct < min {
        Status::Degraded
    } else {
        Status::Healthy
    }
}

/// Stuck signals: any is DEGRADED, more than `max_stuck` CRITICAL.
pub fn stuck_signals(stuck: usize, max_stuck: usize) -> Status {
    if stuck > max_stuck {
        Status::Critical
    } else if stuck > 0 {
        Status::Degraded
    } else {
        Status::Healthy
    }
}

/// A supervised service's state: starting is not known to be bad yet; a restart pending is
/// DEGRADED; stopped or held CRITICAL; FAILED (FAILED_CONFIG with its class) FAILED.
pub fn service(state: &str) -> (Status, Option<FailureClass>) {
    match state {
        "RUNNING" => (Status::Healthy, None),
        "NOT_STARTED" | "STARTING" => (Status::Unknown, None),
        "FAILED_CONFIG" => (Status::Failed, Some(FailureClass::PersistentConfig)),
        "FAILED" => (Status::Failed, None),
        "STOPPED" | "HELD" => (Status::Critical, None),
        _ => (Status::Degraded, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_thresholds() {
        assert_eq!(level(89, 90, CPU_CRITICAL_PCT), Status::Healthy);
        assert_eq!(level(90, 90, CPU_CRITICAL_PCT), Status::Degraded);
        assert_eq!(level(98, 90, CPU_CRITICAL_PCT), Status::Critical);
        // 100: report only — never critical, whatever the load.
        assert_eq!(level(100, 100, CPU_CRITICAL_PCT), Status::Degraded);
        assert_eq!(level(99, 100, CPU_CRITICAL_PCT), Status::Healthy);
        assert_eq!(disk_free(10, 10), Status::Healthy);
        assert_eq!(disk_free(9, 10), Status::Degraded);
        assert_eq!(disk_free(2, 10), Status::Critical);
        assert_eq!(disk_free(0, 0), Status::Healthy);
        assert_eq!(stuck_signals(0, 10), Status::Healthy);
        assert_eq!(stuck_signals(10, 10), Status::Degraded);
        assert_eq!(stuck_signals(11, 10), Status::Critical);
        assert_eq!(service("STARTING").0, Status::Unknown);
        assert_eq!(service("BACKOFF").0, Status::Degraded);
        assert_eq!(service("HELD").0, Status::Critical);
        assert_eq!(
            service("FAILED_CONFIG"),
            (Status::Failed, Some(FailureClass::PersistentConfig))
        );
    }
}
