//! The thresholds of the built-in checks: what a measured figure means, decided here so the
//! monitor only measures (SPEC principle 8).

use super::{Status, at_most};
use crate::heal::FailureClass;
use crate::supervisor::{ServiceState, ShownState};
use crate::time::Timestamp;

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

/// A supervised service's state: starting is not known to be bad yet; a restart pending, or
/// waiting for a dependency that is not running (`WAITING (for NAME)`: the dependency's own
/// issue is the cause), is DEGRADED; stopped or held CRITICAL; FAILED (FAILED_CONFIG with its
/// class) FAILED.
pub fn service(state: &ShownState) -> (Status, Option<FailureClass>) {
    use ServiceState as S;
    match state {
        ShownState::Waiting(_) => (Status::Degraded, None),
        ShownState::Is(S::Running) => (Status::Healthy, None),
        ShownState::NotStarted | ShownState::Is(S::Starting) => (Status::Unknown, None),
        ShownState::Is(S::FailedConfig) => (Status::Failed, Some(FailureClass::PersistentConfig)),
        ShownState::Is(S::Failed) => (Status::Failed, None),
        ShownState::Is(S::Stopped) | ShownState::Held => (Status::Critical, None),
        ShownState::Is(S::Backoff) => (Status::Degraded, None),
        ShownState::Disabled => (Status::Disabled, None),
        // Standing by is what a fallback is meant to do while its primary runs.
        ShownState::Standby => (Status::Healthy, None),
    }
}

/// A resource figure (CPU, memory, disk, file descriptors) counts only once it has stayed past
/// its threshold for a window (`[health] resource_window_secs`): a burst of load beside Ballast
/// — a build, a backup — raises no issue and moves no policy. One per check, kept by the
/// monitor between its samples; the times are the injected clock's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sustained {
    degraded_since: Option<Timestamp>,
    critical_since: Option<Timestamp>,
}

/// What a [`Sustained`] figure counts as now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// The status the check reports (what raises an issue).
    pub status: Status,
    /// A worse status measured but not held long enough yet: (that status, how long it has
    /// lasted, the window), in ms.
    pub pending: Option<(Status, i64, i64)>,
}

impl Sustained {
    /// Take one measurement (`measured`, by the figure's thresholds) at `now`. With
    /// `critical_at_once`, a CRITICAL measurement counts at once (free disk space below a third
    /// of the minimum: the journal's next write may fail). A measurement that could not be
    /// made (UNKNOWN) is reported as such and starts the windows over.
    pub fn observe(
        &mut self,
        measured: Status,
        now: Timestamp,
        window_ms: i64,
        critical_at_once: bool,
    ) -> Held {
        if measured == Status::Unknown {
            *self = Sustained::default();
            return Held {
                status: Status::Unknown,
                pending: None,
            };
        }
        let track = |since: &mut Option<Timestamp>, past: bool| {
            if past {
                Some(now.ms_since(*since.get_or_insert(now)).max(0))
            } else {
                *since = None;
                None
            }
        };
        let degraded = track(&mut self.degraded_since, measured >= Status::Degraded);
        let critical = track(&mut self.critical_since, measured >= Status::Critical);
        let held = |lasted: Option<i64>| lasted.is_some_and(|l| l >= window_ms);
        let status = if held(critical) || (critical_at_once && critical.is_some()) {
            measured
        } else if held(degraded) {
            Status::Degraded
        } else {
            Status::Healthy
        };
        // What would count next: DEGRADED's window first, then CRITICAL's.
        let pending = if status >= measured {
            None
        } else if status == Status::Healthy {
            degraded.map(|l| (Status::Degraded, l, window_ms))
        } else {
            critical.map(|l| (measured, l, window_ms))
        };
        Held { status, pending }
    }
}

/// A resource check's detail with what its window means, in words: `97 % (degraded at 90 %);
/// past the threshold for 12 s: DEGRADED only after 60 s`.
pub fn sustained_detail(detail: &str, held: &Held) -> String {
    match held.pending {
        None => detail.to_owned(),
        Some((status, lasted, window)) => format!(
            "{detail}; past the threshold for {} s: {} only after {} s",
            lasted / 1000,
            status.as_str(),
            window / 1000
        ),
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
        assert_eq!(
            service(&ShownState::Is(ServiceState::Starting)).0,
            Status::Unknown
        );
        assert_eq!(
            service(&ShownState::Is(ServiceState::Backoff)).0,
            Status::Degraded
        );
        assert_eq!(service(&ShownState::Held).0, Status::Critical);
        assert_eq!(
            service(&ShownState::Is(ServiceState::FailedConfig)),
            (Status::Failed, Some(FailureClass::PersistentConfig))
        );
    }

    #[test]
    fn item_21_a_resource_counts_only_after_it_has_held_past_its_threshold_for_the_window() {
        let t = |s: i64| Timestamp::from_unix_ms(1_700_000_000_000 + s * 1000);
        let w = 60_000;
        let mut cpu = Sustained::default();
        // A build beside Ballast: 30 s of 99 % CPU, then quiet. Nothing counts.
        for s in [0, 10, 20, 30] {
            let h = cpu.observe(Status::Critical, t(s), w, false);
            assert_eq!(h.status, Status::Healthy, "at {s} s");
            assert_eq!(h.pending, Some((Status::Degraded, s * 1000, w)));
        }
        let h = cpu.observe(Status::Healthy, t(40), w, false);
        assert_eq!((h.status, h.pending), (Status::Healthy, None));
        // The load comes back: the window starts over.
        assert_eq!(
            cpu.observe(Status::Degraded, t(50), w, false).status,
            Status::Healthy
        );
        let h = cpu.observe(Status::Degraded, t(109), w, false);
        assert_eq!(h.status, Status::Healthy);
        assert_eq!(
            sustained_detail("95 % (degraded at 90 %)", &h),
            "95 % (degraded at 90 %); past the threshold for 59 s: DEGRADED only after 60 s"
        );
        // Sustained: DEGRADED at 60 s; CRITICAL has its own window.
        assert_eq!(
            cpu.observe(Status::Degraded, t(110), w, false).status,
            Status::Degraded
        );
        let h = cpu.observe(Status::Critical, t(120), w, false);
        assert_eq!(h.status, Status::Degraded);
        assert_eq!(h.pending, Some((Status::Critical, 0, w)));
        assert_eq!(
            cpu.observe(Status::Critical, t(180), w, false).status,
            Status::Critical
        );
        // Back under the threshold: clear at once (the policy has its own hysteresis).
        assert_eq!(
            cpu.observe(Status::Healthy, t(181), w, false).status,
            Status::Healthy
        );
        // A window of 0: at once, as before.
        let mut now = Sustained::default();
        assert_eq!(
            now.observe(Status::Critical, t(0), 0, false).status,
            Status::Critical
        );
        // Disk below a third of its minimum: at once; merely low: after the window.
        let mut disk = Sustained::default();
        assert_eq!(
            disk.observe(Status::Degraded, t(0), w, true).status,
            Status::Healthy
        );
        assert_eq!(
            disk.observe(Status::Critical, t(1), w, true).status,
            Status::Critical
        );
        // A measurement that could not be made is UNKNOWN and starts over.
        assert_eq!(
            disk.observe(Status::Unknown, t(2), w, true).status,
            Status::Unknown
        );
        assert_eq!(
            disk.observe(Status::Degraded, t(3), w, true).status,
            Status::Healthy
        );
    }
}
