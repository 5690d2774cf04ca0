//! The supervisor's decisions about one service (SPEC §6), as a pure state machine:
//! `STARTING → RUNNING → BACKOFF → FAILED` (+ `STOPPED`, `FAILED_CONFIG`).
//!
//! - Restart delay: exponential (initial, × 2, capped) with deterministic jitter, reset after a
//!   stable uptime.
//! - Failure budget: a sliding window. More than `max_restarts` unrequested exits or liveness
//!   kills within `restart_window` → FAILED, sticky until an operator resets it. Every failure
//!   counts, including after RUNNING (the widely used supervisors count only start-up failures
//!   and loop forever).
//! - Exit code 78 (`EX_CONFIG`): no restart, FAILED_CONFIG.
//!
//! The supervisor runtime feeds events in and carries out the returned actions.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

mod control;
pub use control::{ControlPlan, ControlRequest, holds_process, plan_control, plan_control_shown};

/// `EX_CONFIG`: "my configuration is wrong".
pub const EX_CONFIG: i32 = 78;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ServiceState {
    Starting,
    Running,
    Backoff,
    Failed,
    FailedConfig,
    Stopped,
}

impl ServiceState {
    pub const ALL: [ServiceState; 6] = [
        ServiceState::Starting,
        ServiceState::Running,
        ServiceState::Backoff,
        ServiceState::Failed,
        ServiceState::FailedConfig,
        ServiceState::Stopped,
    ];

    /// The name operators see (`ballast status`).
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceState::Starting => "STARTING",
            ServiceState::Running => "RUNNING",
            ServiceState::Backoff => "BACKOFF",
            ServiceState::Failed => "FAILED",
            ServiceState::FailedConfig => "FAILED_CONFIG",
            ServiceState::Stopped => "STOPPED",
        }
    }
}

/// A service's state as operators see it (`ballast status`, the health monitor): its
/// machine's state, or why it is down although wanted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShownState {
    /// The service machine's state.
    Is(ServiceState),
    /// Held back by the start gate (the self-heal or the live-start rules).
    Held,
    /// Down only because these dependencies are not running.
    Waiting(Vec<String>),
    /// Never started, and down for no reason yet.
    NotStarted,
    /// Disabled (by an operator, or by its `on_failure = "disable"`): stopped and kept
    /// stopped until `ballast enable`; not counted in the health.
    Disabled,
    /// A fallback service standing by: not started until its primary is FAILED or disabled.
    Standby,
}

impl std::fmt::Display for ShownState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ShownState::Is(s) => f.write_str(s.as_str()),
            ShownState::Held => f.write_str("HELD"),
            ShownState::Waiting(on) => write!(f, "WAITING (for {})", on.join(", ")),
            ShownState::NotStarted => f.write_str("NOT_STARTED"),
            ShownState::Disabled => f.write_str("DISABLED"),
            ShownState::Standby => f.write_str("STANDBY"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    Always,
    OnFailure,
    Never,
}

/// The rules for one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestartRules {
    pub policy: RestartPolicy,
    pub initial_delay_ms: u64,
    pub max_delay_ms: u64,
    /// Jitter as a percentage of the delay (0–100), deterministic in `(seed, attempt)`.
    pub jitter_pct: u64,
    /// Uptime after which the delay goes back to `initial_delay_ms`.
    pub stable_after_ms: u64,
    pub max_restarts: u32,
    pub restart_window_ms: u64,
    pub seed: u64,
}

impl RestartRules {
    /// The delay before restart number `attempt` (0-based), before jitter.
    pub fn base_delay_ms(&self, attempt: u32) -> u64 {
        let factor = 1u64.checked_shl(attempt.min(63)).unwrap_or(u64::MAX);
        self.initial_delay_ms
            .saturating_mul(factor)
            .min(self.max_delay_ms)
    }

    /// Why these rules can never trip the failure budget, if they cannot: the failures needed to
    /// trip it cannot all fall inside the window when the smallest possible delays between them
    /// already add up to more than the window.
    pub fn never_trips(&self) -> Option<String> {
        let needed = self.max_restarts; // the (max_restarts + 1)-th failure trips; max_restarts delays precede it
        let min_jitter = |d: u64| d - d * self.jitter_pct.min(100) / 100;
        let sum: u64 = (0..needed)
            .map(|i| min_jitter(self.base_delay_ms(i)))
            .fold(0, u64::saturating_add);
        (sum > self.restart_window_ms).then(|| {
            format!(
                "restart_window {} is shorter than the {} of restart delays needed to see {} failures: the budget could never trip and the service would restart forever",
                crate::time::Human(self.restart_window_ms),
                crate::time::Human(sum),
                self.max_restarts + 1
            )
        })
    }

    fn jittered(&self, attempt: u32) -> u64 {
        let base = self.base_delay_ms(attempt);
        if self.jitter_pct == 0 || base == 0 {
            return base;
        }
        let span = base * self.jitter_pct.min(100) / 100;
        let mut z = self.seed ^ u64::from(attempt).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 31)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z ^= z >> 29;
        // Uniform in [base - span, base + span].
        (base - span) + z % (2 * span + 1)
    }
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    /// The supervisor asked for it (stop, restart command).
    pub requested: bool,
    /// The supervisor killed it because its liveness check failed.
    pub liveness_kill: bool,
}

/// What the runtime must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Start again after this many milliseconds.
    Restart { after_ms: u64 },
    /// Stay down: FAILED (budget exhausted), FAILED_CONFIG, or not restarted by policy.
    StayDown { state: ServiceState, reason: String },
}

/// One service's supervision state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    pub state: ServiceState,
    pub restarts: u64,
    pub started_at: Option<Timestamp>,
    /// Restart attempts since the last stable run (drives the exponential delay).
    attempt: u32,
    /// Recent failures within the window.
    failures: VecDeque<Timestamp>,
    pub last_reason: Option<String>,
}

impl Default for Service {
    fn default() -> Self {
        Service {
            state: ServiceState::Stopped,
            restarts: 0,
            started_at: None,
            attempt: 0,
            failures: VecDeque::new(),
            last_reason: None,
        }
    }
}

impl Service {
    /// The process was started.
    pub fn started(&mut self, now: Timestamp) {
        self.state = ServiceState::Starting;
        self.started_at = Some(now);
    }

    /// The process reported ready (or its readiness check passed).
    pub fn ready(&mut self) {
        if self.state == ServiceState::Starting {
            self.state = ServiceState::Running;
        }
    }

    /// The restart delay of a BACKOFF service is over: it is STOPPED and may be started again.
    pub fn backoff_over(&mut self) {
        if self.state == ServiceState::Backoff {
            self.state = ServiceState::Stopped;
        }
    }

    /// Clear a FAILED service (only through a [`ControlPlan::ClearThenStart`]).
    fn reset(&mut self) {
        self.failures.clear();
        self.attempt = 0;
        self.state = ServiceState::Stopped;
        self.last_reason = None;
    }

    /// The process could not be started for a reason a restart cannot change (its command is
    /// missing or not executable): FAILED_CONFIG at once, never retried, `reason` shown.
    pub fn start_refused(&mut self, reason: String) -> Action {
        self.stay(ServiceState::FailedConfig, reason)
    }

    /// Failures currently inside the window.
    pub fn failures_in_window(&self) -> usize {
        self.failures.len()
    }

    /// The process ended: decide.
    pub fn exited(&mut self, exit: Exit, now: Timestamp, rules: &RestartRules) -> Action {
        let uptime = self.started_at.map_or(0, |s| now.ms_since(s).max(0) as u64);
        if uptime >= rules.stable_after_ms {
            self.attempt = 0;
        }
        let how = match (exit.code, exit.signal) {
            (Some(c), _) => format!("exit code {c}"),
            (None, Some(s)) => format!("signal {s}"),
            _ => "unknown exit".to_owned(),
        };
        if exit.requested {
            self.state = ServiceState::Stopped;
            return self.stay(ServiceState::Stopped, format!("stopped on request ({how})"));
        }
        if exit.code == Some(EX_CONFIG) {
            return self.stay(ServiceState::FailedConfig, format!("{how}: the service reports a configuration error; not restarted until it is fixed"));
        }
        let failure = exit.liveness_kill || exit.code != Some(0);
        let restart = match rules.policy {
            RestartPolicy::Always => true,
            RestartPolicy::OnFailure => failure,
            RestartPolicy::Never => false,
        };
        // Every unrequested exit counts against the budget, clean ones included when the
        // policy restarts them (a service that keeps exiting is failing).
        if restart {
            self.failures.push_back(now);
            let from = now.plus_ms(-(rules.restart_window_ms as i64));
            while self.failures.front().is_some_and(|t| *t <= from)
                || self.failures.len() > rules.max_restarts as usize + 1
            {
                self.failures.pop_front();
            }
            if self.failures.len() > rules.max_restarts as usize {
                return self.stay(
                    ServiceState::Failed,
                    format!(
                        "{how}: {} unrequested exits within {} (budget {}); FAILED until an operator resets it",
                        self.failures.len(),
                        crate::time::Human(rules.restart_window_ms),
                        rules.max_restarts
                    ),
                );
            }
            let after_ms = rules.jittered(self.attempt);
            self.attempt = self.attempt.saturating_add(1);
            self.restarts += 1;
            self.state = ServiceState::Backoff;
            self.last_reason = Some(format!(
                "{how}{}",
                if exit.liveness_kill {
                    " (liveness kill)"
                } else {
                    ""
                }
            ));
            return Action::Restart { after_ms };
        }
        self.stay(
            ServiceState::Stopped,
            format!("{how}; restart policy does not restart it"),
        )
    }

    fn stay(&mut self, state: ServiceState, reason: String) -> Action {
        self.state = state;
        self.last_reason = Some(reason.clone());
        Action::StayDown { state, reason }
    }
}

/// Liveness limits of a service (each `None` when not checked).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LivenessRules {
    pub heartbeat_max_age_ms: Option<u64>,
    pub watchdog_ms: Option<u64>,
}

/// What the runtime saw of a ready service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LivenessSeen {
    pub uptime_ms: u64,
    /// Age of its last heartbeat since the start, `None` if there has been none.
    pub heartbeat_age_ms: Option<u64>,
    /// The heartbeat file exists at all.
    pub heartbeat_file_exists: bool,
    /// Time since its last `WATCHDOG=1`, `None` if none came since the start.
    pub watchdog_age_ms: Option<u64>,
}

/// Why a service failed its liveness check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LivenessFailure {
    /// No heartbeat for `age_ms` (since the start when there was none).
    StaleHeartbeat {
        age_ms: u64,
        max_ms: u64,
        missing: bool,
    },
    SilentWatchdog {
        age_ms: u64,
        every_ms: u64,
    },
}

impl std::fmt::Display for LivenessFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LivenessFailure::StaleHeartbeat {
                age_ms,
                max_ms,
                missing,
            } => write!(
                f,
                "heartbeat is {} old (max {}){}",
                crate::time::Human(*age_ms),
                crate::time::Human(*max_ms),
                if *missing { ", missing" } else { "" }
            ),
            LivenessFailure::SilentWatchdog { age_ms, every_ms } => {
                write!(
                    f,
                    "no WATCHDOG=1 for {} (every {})",
                    crate::time::Human(*age_ms),
                    crate::time::Human(*every_ms)
                )
            }
        }
    }
}

/// The liveness verdict for a ready service: a heartbeat or watchdog older than its limit
/// (measured from the start while none has come). The watchdog is reported when both fail.
pub fn liveness(rules: &LivenessRules, seen: &LivenessSeen) -> Option<LivenessFailure> {
    let watchdog = rules.watchdog_ms.and_then(|every| {
        let age = seen.watchdog_age_ms.unwrap_or(seen.uptime_ms);
        (age > every).then_some(LivenessFailure::SilentWatchdog {
            age_ms: age,
            every_ms: every,
        })
    });
    let heartbeat = rules.heartbeat_max_age_ms.and_then(|max| {
        let age = seen.heartbeat_age_ms.unwrap_or(seen.uptime_ms);
        (age > max).then_some(LivenessFailure::StaleHeartbeat {
            age_ms: age,
            max_ms: max,
            missing: !seen.heartbeat_file_exists,
        })
    });
    watchdog.or(heartbeat)
}

/// The whole system from its services' `(critical, state)`: FAILED_CONFIG or FAILED if a
/// critical service is; HEALTHY if every service runs; DEGRADED otherwise.
pub fn overall(services: &[(bool, ServiceState)]) -> &'static str {
    let critical = |st| services.iter().any(|(c, s)| *c && *s == st);
    if critical(ServiceState::FailedConfig) {
        "FAILED_CONFIG"
    } else if critical(ServiceState::Failed) {
        "FAILED"
    } else if services.iter().all(|(_, s)| *s == ServiceState::Running) {
        "HEALTHY"
    } else {
        "DEGRADED"
    }
}

#[cfg(test)]
mod tests;
