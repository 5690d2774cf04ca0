//! What the supervisor journals in `journal/ops` (SPEC principle 7): one variant per event
//! kind. Its body is the variant's fields (`Serialize`, as the records were always written:
//! `ballast journal` and `ballast ops` read them by these names), its log line its `Display`.
//! The shell's `emit` journals every event and logs the ones [`OpsEvent::logged`] names —
//! metrics and alerts subscribe to the same values.

use ballast_core::Timestamp;
use ballast_core::guard::TradingState;
use ballast_core::health::Recommendation;
use ballast_core::policy::{Policy, Transition};
use ballast_core::supervisor::ServiceState;
use serde::Serialize;

/// How a service was found ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadyVia {
    Heartbeat,
    Http,
    Notify,
    MinUptime,
}

/// One ops-journal event. The variant is the record's kind ([`OpsEvent::kind`]); its fields
/// are the record's body.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum OpsEvent {
    SupervisorStarted {
        pid: u32,
        services: Vec<String>,
    },
    SupervisorStopped {
        pid: u32,
    },
    ServiceStarted {
        service: String,
        pid: i32,
    },
    ServiceReady {
        service: String,
        via: ReadyVia,
        /// How the heartbeat was seen (the log line says it; the record does not).
        #[serde(skip)]
        seen_by: &'static str,
    },
    ServiceExited {
        service: String,
        pid: i32,
        how: String,
        requested: bool,
        liveness_kill: bool,
    },
    ServiceBackoff {
        service: String,
        after_ms: u64,
        failures_in_window: usize,
        max_restarts: u32,
    },
    ServiceDown {
        service: String,
        state: ServiceState,
        reason: String,
    },
    LivenessKill {
        service: String,
        why: String,
    },
    /// `service.reset` or `service.restart_requested` (`reset`), with the pid of the process
    /// it stops, if any.
    ServiceControl {
        #[serde(skip)]
        reset: bool,
        service: String,
        was: String,
        by: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        pid: Option<i32>,
    },
    EngineHeld {
        service: String,
        why: String,
    },
    EngineReleased {
        service: String,
    },
    RecommendationPending(Recommendation),
    RecommendationExpired(Recommendation),
    RecommendationApproved(Recommendation),
    RecommendationRejected(Recommendation),
    HealthChanged {
        from: Option<&'static str>,
        to: &'static str,
        score: u32,
        issues: Vec<String>,
    },
    PolicyChanged {
        from: &'static str,
        to: &'static str,
        reason: String,
        at: Timestamp,
        trading_state: TradingState,
    },
    PolicyReleased {
        by: &'static str,
    },
    PolicyFileRestored {
        policy: &'static str,
        why: String,
    },
    PolicyPersistFailed {
        error: String,
    },
    HealthWriteFailed {
        error: String,
    },
    /// A heal carried out (`heal.applied`), or tried and failed (`heal.failed`).
    HealApplied(crate::heal::Applied),
    /// A finding never applied: dangerous (`heal.dangerous`) or skipped by the mode
    /// (`heal.skipped`).
    HealFinding(ballast_core::heal::Action),
    /// A declared cache emptied by `clear_cache` (`cache.cleared`), or not
    /// (`cache.clear_refused`), with its counts.
    CacheCleared(Box<ballast_core::cache::Cleared>),
    /// Events the ops journal's queue could not take (`ops.dropped`).
    OpsDropped {
        events: u64,
    },
    /// A disable / enable, a fallback engaged or released (`module.*`, `service.fallback_*`).
    Lifecycle(super::lifecycle::LifecycleEvent),
    /// A reload applied (`config.reloaded`): the whole plan, its diff with secrets masked.
    ConfigReloaded(Box<super::ReloadRecord>),
    /// A reload that changed nothing: invalid, refused, or its engine settings not written
    /// (`config.reload_refused`).
    ConfigReloadRefused(Box<super::ReloadRecord>),
    /// An operator's control action (`control.action`): what, who (the CLI, or the API's
    /// role and remote address), when, and its outcome.
    ControlAction(Box<ControlAction>),
}

/// One control action as the ops journal keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ControlAction {
    /// `restart`, `reset`, `approve`, `reject`, `release`, `kill`, `reload`, …
    pub action: &'static str,
    /// What it names (a service, a recommendation, the kill switch's reason).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// `cli` (the control socket) or `api`.
    pub via: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote: Option<String>,
    pub at: Timestamp,
    /// `done`, a refusal's class (`not_found`, `conflict`, …) or a reload's outcome.
    pub outcome: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl OpsEvent {
    /// The record's type in the ops journal.
    pub fn kind(&self) -> &'static str {
        match self {
            OpsEvent::SupervisorStarted { .. } => "supervisor.started",
            OpsEvent::SupervisorStopped { .. } => "supervisor.stopped",
            OpsEvent::ServiceStarted { .. } => "service.started",
            OpsEvent::ServiceReady { .. } => "service.ready",
            OpsEvent::ServiceExited { .. } => "service.exited",
            OpsEvent::ServiceBackoff { .. } => "service.backoff",
            OpsEvent::ServiceDown { .. } => "service.down",
            OpsEvent::LivenessKill { .. } => "service.liveness_kill",
            OpsEvent::ServiceControl { reset: true, .. } => "service.reset",
            OpsEvent::ServiceControl { reset: false, .. } => "service.restart_requested",
            OpsEvent::EngineHeld { .. } => "heal.engine_held",
            OpsEvent::EngineReleased { .. } => "heal.engine_released",
            OpsEvent::RecommendationPending(_) => "recommendation.pending",
            OpsEvent::RecommendationExpired(_) => "recommendation.expired",
            OpsEvent::RecommendationApproved(_) => "recommendation.approved",
            OpsEvent::RecommendationRejected(_) => "recommendation.rejected",
            OpsEvent::HealthChanged { .. } => "health.changed",
            OpsEvent::PolicyChanged { .. } => "policy.changed",
            OpsEvent::PolicyReleased { .. } => "policy.released",
            OpsEvent::PolicyFileRestored { .. } => "policy.file_restored",
            OpsEvent::PolicyPersistFailed { .. } => "policy.persist_failed",
            OpsEvent::HealthWriteFailed { .. } => "health.write_failed",
            OpsEvent::HealApplied(a) if a.error.is_none() => "heal.applied",
            OpsEvent::HealApplied(_) => "heal.failed",
            OpsEvent::HealFinding(a) if a.class == ballast_core::heal::Class::Dangerous => {
                "heal.dangerous"
            }
            OpsEvent::HealFinding(_) => "heal.skipped",
            OpsEvent::OpsDropped { .. } => "ops.dropped",
            OpsEvent::Lifecycle(e) => e.kind(),
            OpsEvent::CacheCleared(c) if c.refused.is_some() => "cache.clear_refused",
            OpsEvent::CacheCleared(_) => "cache.cleared",
            OpsEvent::ConfigReloaded(_) => "config.reloaded",
            OpsEvent::ConfigReloadRefused(_) => "config.reload_refused",
            OpsEvent::ControlAction(_) => "control.action",
        }
    }

    /// The ops-journal record: its kind and its body (what [`crate::ops::Ops::emit`] queues;
    /// serializing these fields cannot fail, and a body that did would be `null`, not lost).
    pub fn record(&self) -> (&'static str, serde_json::Value) {
        (
            self.kind(),
            serde_json::to_value(self).unwrap_or(serde_json::Value::Null),
        )
    }

    /// Whether the supervisor's log shows it (the others are in the journal only, or logged
    /// in other words by the step that caused them).
    pub fn logged(&self) -> bool {
        !matches!(
            self,
            OpsEvent::SupervisorStarted { .. }
                | OpsEvent::SupervisorStopped { .. }
                | OpsEvent::ServiceControl { pid: Some(_), .. }
                | OpsEvent::RecommendationExpired(_)
                | OpsEvent::PolicyReleased { .. }
                | OpsEvent::PolicyFileRestored { .. }
                | OpsEvent::OpsDropped { .. }
        )
    }

    /// The ops-journal event of a policy change.
    pub fn policy_changed(t: &Transition) -> OpsEvent {
        OpsEvent::PolicyChanged {
            from: t.from.as_str(),
            to: t.to.as_str(),
            reason: t.reason.clone(),
            at: t.at,
            trading_state: t.to.trading_state(),
        }
    }
}

impl std::fmt::Display for OpsEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpsEvent::SupervisorStarted { pid, services } => {
                write!(f, "supervisor {pid} started: {}", services.join(", "))
            }
            OpsEvent::SupervisorStopped { pid } => write!(f, "supervisor {pid} stopped"),
            OpsEvent::ServiceStarted { service, pid } => {
                write!(f, "{service}: started, pid {pid}")
            }
            OpsEvent::ServiceReady {
                service,
                via,
                seen_by,
            } => match via {
                ReadyVia::Heartbeat => write!(f, "{service}: RUNNING (heartbeat, {seen_by})"),
                ReadyVia::Http => write!(f, "{service}: RUNNING (HTTP probe)"),
                ReadyVia::Notify => write!(f, "{service}: RUNNING (READY=1)"),
                ReadyVia::MinUptime => write!(f, "{service}: RUNNING"),
            },
            OpsEvent::ServiceExited { service, how, .. } => write!(f, "{service}: {how}"),
            OpsEvent::ServiceBackoff {
                service,
                after_ms,
                failures_in_window,
                max_restarts,
            } => write!(
                f,
                "{service}: BACKOFF, restart in {} ({failures_in_window} of {max_restarts} failures in the window)",
                ballast_core::time::Human(*after_ms)
            ),
            OpsEvent::ServiceDown {
                service,
                state,
                reason,
            } => write!(f, "{service}: {} — {reason}", state.as_str()),
            OpsEvent::LivenessKill { service, why } => write!(
                f,
                "{service}: liveness failed: {why}; SIGKILL to its process group"
            ),
            OpsEvent::ServiceControl {
                reset,
                service,
                was,
                by,
                ..
            } => write!(
                f,
                "{service}: {} by {by} (was {was})",
                if *reset { "reset" } else { "restart" }
            ),
            OpsEvent::EngineHeld { service, why } => write!(f, "{service}: not started: {why}"),
            OpsEvent::EngineReleased { service } => write!(
                f,
                "{service}: nothing dangerous and health allows it now; starting it"
            ),
            OpsEvent::RecommendationPending(r) => write!(
                f,
                "recommendation {} waits for an operator: {} (risks: {}) — `ballast approve {}` or `ballast reject {}`",
                r.id, r.advice.expected, r.advice.risks, r.id, r.id
            ),
            OpsEvent::RecommendationExpired(r) => write!(f, "recommendation {} expired", r.id),
            OpsEvent::RecommendationApproved(r) => {
                write!(f, "recommendation {} approved by an operator", r.id)
            }
            OpsEvent::RecommendationRejected(r) => {
                write!(f, "recommendation {} rejected by an operator", r.id)
            }
            OpsEvent::HealthChanged {
                from, to, score, ..
            } => write!(f, "health {} -> {to} (score {score})", from.unwrap_or("-")),
            OpsEvent::PolicyChanged {
                from, to, reason, ..
            } => {
                let critical = *to == Policy::EmergencyShutdown.as_str()
                    || *to == Policy::DefensiveExit.as_str();
                let level = if critical { "CRITICAL: " } else { "" };
                write!(f, "{level}safety policy {from} -> {to}: {reason}")
            }
            OpsEvent::PolicyReleased { by } => write!(f, "safety policy released by {by}"),
            OpsEvent::PolicyFileRestored { policy, why } => write!(f, "{policy}: {why}"),
            OpsEvent::PolicyPersistFailed { error } | OpsEvent::HealthWriteFailed { error } => {
                write!(f, "CRITICAL: {}: {error}", self.kind())
            }
            OpsEvent::HealApplied(_) | OpsEvent::HealFinding(_) | OpsEvent::OpsDropped { .. } => {
                self.fmt_heal(f)
            }
            OpsEvent::Lifecycle(e) => e.fmt(f),
            OpsEvent::CacheCleared(c) => f.write_str(&c.summary()),
            OpsEvent::ControlAction(a) => {
                write!(f, "control: {}", a.action)?;
                if let Some(t) = &a.target {
                    write!(f, " {t}")?;
                }
                write!(f, " by {}", a.via)?;
                if let Some(r) = &a.role {
                    write!(f, " ({r})")?;
                }
                if let Some(r) = &a.remote {
                    write!(f, " from {r}")?;
                }
                write!(f, ": {}", a.outcome)
            }
            OpsEvent::ConfigReloaded(r) | OpsEvent::ConfigReloadRefused(r) => {
                write!(f, "reload by {} ({}): {}", r.by, r.outcome, r.message)?;
                for a in &r.actions {
                    write!(f, "; {a}")?;
                }
                for e in r.refused.iter().chain(&r.errors) {
                    write!(f, "\n  {e}")?;
                }
                Ok(())
            }
        }
    }
}

impl OpsEvent {
    /// The words of the healer's and the journal's own events.
    fn fmt_heal(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpsEvent::HealApplied(a) => match &a.error {
                None => {
                    write!(
                        f,
                        "heal: {} {}: {} ({} -> {})",
                        a.action.component, a.action.target, a.action.reason, a.before, a.after
                    )?;
                    match &a.quarantined {
                        Some(q) => write!(f, ", original in {q}"),
                        None => Ok(()),
                    }
                }
                Some(e) => write!(
                    f,
                    "heal failed: {} {}: {e}",
                    a.action.component, a.action.target
                ),
            },
            OpsEvent::HealFinding(a) => {
                let level = match a.class {
                    ballast_core::heal::Class::Dangerous => "CRITICAL",
                    _ => "warning",
                };
                write!(f, "{level}: {} {}: {}", a.component, a.target, a.reason)
            }
            OpsEvent::OpsDropped { events } => {
                write!(
                    f,
                    "{events} event(s) dropped: the ops journal's queue overflowed"
                )
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(ev: &OpsEvent) -> (&'static str, serde_json::Value) {
        let (kind, body) = ev.record();
        assert!(!body.is_null(), "{kind} has a body");
        (kind, body)
    }

    /// The records read exactly as the `json!` bodies the supervisor wrote before these
    /// types (`ballast journal` and `ballast ops` read them by these names).
    #[test]
    fn every_event_is_journaled_with_the_kind_and_body_written_before() {
        let at = Timestamp::from_unix_ms(1_800_000_000_000);
        let cases = [
            (
                OpsEvent::SupervisorStarted {
                    pid: 7,
                    services: vec!["engine".into(), "bot".into()],
                },
                "supervisor.started",
                json!({ "pid": 7, "services": ["engine", "bot"] }),
            ),
            (
                OpsEvent::SupervisorStopped { pid: 7 },
                "supervisor.stopped",
                json!({ "pid": 7 }),
            ),
            (
                OpsEvent::ServiceStarted {
                    service: "bot".into(),
                    pid: 42,
                },
                "service.started",
                json!({ "service": "bot", "pid": 42 }),
            ),
            (
                OpsEvent::ServiceReady {
                    service: "bot".into(),
                    via: ReadyVia::MinUptime,
                    seen_by: "",
                },
                "service.ready",
                json!({ "service": "bot", "via": "min_uptime" }),
            ),
            (
                OpsEvent::ServiceExited {
                    service: "bot".into(),
                    pid: 42,
                    how: "exit code 1".into(),
                    requested: false,
                    liveness_kill: true,
                },
                "service.exited",
                json!({ "service": "bot", "pid": 42, "how": "exit code 1", "requested": false, "liveness_kill": true }),
            ),
            (
                OpsEvent::ServiceBackoff {
                    service: "bot".into(),
                    after_ms: 2_000,
                    failures_in_window: 2,
                    max_restarts: 5,
                },
                "service.backoff",
                json!({ "service": "bot", "after_ms": 2000, "failures_in_window": 2, "max_restarts": 5 }),
            ),
            (
                OpsEvent::ServiceDown {
                    service: "bot".into(),
                    state: ServiceState::FailedConfig,
                    reason: "exit code 78".into(),
                },
                "service.down",
                json!({ "service": "bot", "state": "FAILED_CONFIG", "reason": "exit code 78" }),
            ),
            (
                OpsEvent::LivenessKill {
                    service: "bot".into(),
                    why: "no WATCHDOG=1".into(),
                },
                "service.liveness_kill",
                json!({ "service": "bot", "why": "no WATCHDOG=1" }),
            ),
            (
                OpsEvent::ServiceControl {
                    reset: false,
                    service: "bot".into(),
                    was: "RUNNING".into(),
                    by: "operator".into(),
                    pid: Some(42),
                },
                "service.restart_requested",
                json!({ "service": "bot", "was": "RUNNING", "by": "operator", "pid": 42 }),
            ),
            (
                OpsEvent::ServiceControl {
                    reset: true,
                    service: "bot".into(),
                    was: "FAILED".into(),
                    by: "operator".into(),
                    pid: None,
                },
                "service.reset",
                json!({ "service": "bot", "was": "FAILED", "by": "operator" }),
            ),
            (
                OpsEvent::EngineHeld {
                    service: "engine".into(),
                    why: "live start refused".into(),
                },
                "heal.engine_held",
                json!({ "service": "engine", "why": "live start refused" }),
            ),
            (
                OpsEvent::EngineReleased {
                    service: "engine".into(),
                },
                "heal.engine_released",
                json!({ "service": "engine" }),
            ),
            (
                OpsEvent::HealthChanged {
                    from: None,
                    to: "HEALTHY",
                    score: 100,
                    issues: Vec::new(),
                },
                "health.changed",
                json!({ "from": null, "to": "HEALTHY", "score": 100, "issues": [] }),
            ),
            (
                OpsEvent::policy_changed(&Transition {
                    from: Policy::AllowAll,
                    to: Policy::EmergencyShutdown,
                    reason: "kill switch".into(),
                    at,
                }),
                "policy.changed",
                json!({
                    "from": "ALLOW_ALL",
                    "to": "EMERGENCY_SHUTDOWN",
                    "reason": "kill switch",
                    "at": at,
                    "trading_state": Policy::EmergencyShutdown.trading_state(),
                }),
            ),
            (
                OpsEvent::PolicyReleased { by: "operator" },
                "policy.released",
                json!({ "by": "operator" }),
            ),
            (
                OpsEvent::PolicyFileRestored {
                    policy: "NO_NEW_TRADES",
                    why: "state/policy.json was not the policy in force: written again".into(),
                },
                "policy.file_restored",
                json!({ "policy": "NO_NEW_TRADES", "why": "state/policy.json was not the policy in force: written again" }),
            ),
            (
                OpsEvent::PolicyPersistFailed {
                    error: "disk full".into(),
                },
                "policy.persist_failed",
                json!({ "error": "disk full" }),
            ),
            (
                OpsEvent::HealthWriteFailed {
                    error: "disk full".into(),
                },
                "health.write_failed",
                json!({ "error": "disk full" }),
            ),
        ];
        for (ev, kind, body) in cases {
            assert_eq!(record(&ev), (kind, body), "{ev:?}");
        }
        // The healer's records are its types as they serialize.
        let action = ballast_core::heal::Action {
            component: "journal".into(),
            target: "journal/engine".into(),
            class: ballast_core::heal::Class::Dangerous,
            failure: ballast_core::heal::FailureClass::Transient,
            op: ballast_core::heal::Op::Report,
            reason: "a bad record with valid records after it".into(),
        };
        let finding = OpsEvent::HealFinding(action.clone());
        assert_eq!(
            record(&finding),
            ("heal.dangerous", serde_json::to_value(&action).unwrap())
        );
        let applied = crate::heal::Applied {
            action: action.clone(),
            error: Some("disk full".into()),
            before: "a".into(),
            after: "b".into(),
            quarantined: None,
        };
        assert_eq!(
            record(&OpsEvent::HealApplied(applied.clone())),
            ("heal.failed", serde_json::to_value(&applied).unwrap())
        );
        assert_eq!(
            record(&OpsEvent::OpsDropped { events: 3 }),
            ("ops.dropped", json!({ "events": 3 }))
        );
    }

    #[test]
    fn the_log_lines_are_the_ones_the_supervisor_printed() {
        let backoff = OpsEvent::ServiceBackoff {
            service: "bot".into(),
            after_ms: 2_000,
            failures_in_window: 2,
            max_restarts: 5,
        };
        assert_eq!(
            backoff.to_string(),
            "bot: BACKOFF, restart in 2 s (2 of 5 failures in the window)"
        );
        let changed = OpsEvent::policy_changed(&Transition {
            from: Policy::AllowAll,
            to: Policy::DefensiveExit,
            reason: "CRITICAL issue".into(),
            at: Timestamp::from_unix_ms(0),
        });
        assert_eq!(
            changed.to_string(),
            "CRITICAL: safety policy ALLOW_ALL -> DEFENSIVE_EXIT: CRITICAL issue"
        );
        let held = OpsEvent::EngineHeld {
            service: "engine".into(),
            why: "live start refused: score 40".into(),
        };
        assert_eq!(
            held.to_string(),
            "engine: not started: live start refused: score 40"
        );
        assert!(held.logged());
        assert!(!OpsEvent::PolicyReleased { by: "operator" }.logged());
    }

    /// The healer's lines as the sweep logged them by hand before they were the events'.
    #[test]
    fn the_healers_log_lines_are_the_ones_the_sweep_printed() {
        use ballast_core::heal::{Action, Class, FailureClass, Op};
        let action = |class| Action {
            component: "artifact".into(),
            target: "state/x.json".into(),
            class,
            failure: FailureClass::Transient,
            op: Op::Report,
            reason: "not valid JSON".into(),
        };
        let applied = |error: Option<&str>, quarantined: Option<&str>| {
            OpsEvent::HealApplied(crate::heal::Applied {
                action: action(Class::Heal),
                error: error.map(str::to_owned),
                before: "invalid".into(),
                after: "default".into(),
                quarantined: quarantined.map(str::to_owned),
            })
        };
        let cases = [
            (
                applied(None, Some("quarantine/x.json")),
                "heal: artifact state/x.json: not valid JSON (invalid -> default), original in quarantine/x.json",
            ),
            (
                applied(None, None),
                "heal: artifact state/x.json: not valid JSON (invalid -> default)",
            ),
            (
                applied(Some("disk full"), None),
                "heal failed: artifact state/x.json: disk full",
            ),
            (
                OpsEvent::HealFinding(action(Class::Dangerous)),
                "CRITICAL: artifact state/x.json: not valid JSON",
            ),
            (
                OpsEvent::HealFinding(action(Class::Skip)),
                "warning: artifact state/x.json: not valid JSON",
            ),
        ];
        for (ev, line) in cases {
            assert!(ev.logged(), "{ev:?}");
            assert_eq!(ev.to_string(), line);
        }
    }
}
