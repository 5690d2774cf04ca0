//! The ops-journal events of the module lifecycle (disable / enable, fallback services), kept
//! beside their decisions; [`super::super::OpsEvent::Lifecycle`] carries them.

use ballast_store::files::disabled::ModuleKind;
use serde::Serialize;

/// One lifecycle event; its fields are the record's body.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum LifecycleEvent {
    /// `module.disabled`: by an operator, an approved recommendation, or `on_failure`.
    Disabled {
        module: String,
        kind: ModuleKind,
        by: String,
        reason: String,
    },
    /// `module.enabled`.
    Enabled {
        module: String,
        kind: ModuleKind,
        by: String,
    },
    /// `module.persist_failed`: `state/disabled.json` could not be written.
    PersistFailed { error: String },
    /// `module.state_unreadable`: `state/disabled.json` was damaged at the start.
    StateUnreadable { error: String },
    /// `module.disable_refused`: `state/disabled.json` named a critical module (the engine,
    /// a critical service or check); the entry is dropped and the module runs.
    DisableRefused {
        module: String,
        kind: ModuleKind,
        why: String,
    },
    /// `service.fallback_engaged`: `fallback` started to cover for `service`.
    FallbackEngaged {
        service: String,
        fallback: String,
        why: String,
    },
    /// `service.uncovered`: `service` is down and its fallback does not cover for it (it is
    /// disabled or FAILED, or stopped covering for that reason).
    Uncovered {
        service: String,
        fallback: String,
        why: String,
    },
    /// `service.fallback_released`: `service` is back; `fallback` stopped.
    FallbackReleased { service: String, fallback: String },
    /// `service.fallback_stood_down`: a reload made `fallback` the fallback of `primary`,
    /// which is up: it was running and is stopped (STANDBY).
    FallbackStoodDown { fallback: String, primary: String },
}

impl LifecycleEvent {
    pub fn kind(&self) -> &'static str {
        match self {
            LifecycleEvent::Disabled { .. } => "module.disabled",
            LifecycleEvent::Enabled { .. } => "module.enabled",
            LifecycleEvent::PersistFailed { .. } => "module.persist_failed",
            LifecycleEvent::StateUnreadable { .. } => "module.state_unreadable",
            LifecycleEvent::DisableRefused { .. } => "module.disable_refused",
            LifecycleEvent::FallbackEngaged { .. } => "service.fallback_engaged",
            LifecycleEvent::FallbackReleased { .. } => "service.fallback_released",
            LifecycleEvent::Uncovered { .. } => "service.uncovered",
            LifecycleEvent::FallbackStoodDown { .. } => "service.fallback_stood_down",
        }
    }
}

impl std::fmt::Display for LifecycleEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LifecycleEvent::Disabled {
                module,
                kind,
                by,
                reason,
            } => write!(
                f,
                "ALERT: {} {module}: DISABLED by {by}: {reason}; `ballast enable {module}` brings it back",
                kind.as_str()
            ),
            LifecycleEvent::Enabled { module, kind, by } => {
                write!(f, "{} {module}: enabled by {by}", kind.as_str())
            }
            LifecycleEvent::PersistFailed { error } => write!(
                f,
                "CRITICAL: cannot write {}: {error}; the disable or enable holds until the supervisor stops, not after",
                ballast_core::layout::rel::DISABLED
            ),
            LifecycleEvent::StateUnreadable { error } => write!(
                f,
                "CRITICAL: {error}; every service and check starts enabled"
            ),
            LifecycleEvent::DisableRefused { why, .. } => write!(f, "ALERT: {why}"),
            LifecycleEvent::FallbackEngaged {
                service,
                fallback,
                why,
            } => write!(
                f,
                "ALERT: {service}: {why}; its fallback {fallback} is started and covers for it"
            ),
            LifecycleEvent::Uncovered {
                service,
                fallback,
                why,
            } => write!(
                f,
                "ALERT: {service}: uncovered — its fallback {fallback} {why}; nothing covers for {service} until it is back"
            ),
            LifecycleEvent::FallbackReleased { service, fallback } => write!(
                f,
                "ALERT: {service}: back and running for its min uptime; its fallback {fallback} is stopped (STANDBY)"
            ),
            LifecycleEvent::FallbackStoodDown { fallback, primary } => write!(
                f,
                "{fallback}: a reload made it the fallback of {primary}, which is up: stopped (STANDBY)"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::OpsEvent;
    use super::*;
    use serde_json::json;

    /// The records `ballast journal dump --ops` shows, kind and body, and their log lines.
    #[test]
    fn each_lifecycle_event_has_its_kind_its_body_and_its_alert() {
        let cases = [
            (
                LifecycleEvent::Disabled {
                    module: "model".into(),
                    kind: ModuleKind::Service,
                    by: "on_failure".into(),
                    reason: "FAILED".into(),
                },
                "module.disabled",
                json!({"module": "model", "kind": "service", "by": "on_failure", "reason": "FAILED"}),
                "ALERT: service model: DISABLED by on_failure: FAILED; `ballast enable model` brings it back",
            ),
            (
                LifecycleEvent::Enabled {
                    module: "gpu".into(),
                    kind: ModuleKind::Check,
                    by: "operator".into(),
                },
                "module.enabled",
                json!({"module": "gpu", "kind": "check", "by": "operator"}),
                "check gpu: enabled by operator",
            ),
            (
                LifecycleEvent::FallbackEngaged {
                    service: "feed".into(),
                    fallback: "replay".into(),
                    why: "FAILED".into(),
                },
                "service.fallback_engaged",
                json!({"service": "feed", "fallback": "replay", "why": "FAILED"}),
                "ALERT: feed: FAILED; its fallback replay is started and covers for it",
            ),
            (
                LifecycleEvent::FallbackReleased {
                    service: "feed".into(),
                    fallback: "replay".into(),
                },
                "service.fallback_released",
                json!({"service": "feed", "fallback": "replay"}),
                "ALERT: feed: back and running for its min uptime; its fallback replay is stopped (STANDBY)",
            ),
            (
                LifecycleEvent::Uncovered {
                    service: "feed".into(),
                    fallback: "replay".into(),
                    why: "is DISABLED (disabled by operator)".into(),
                },
                "service.uncovered",
                json!({"service": "feed", "fallback": "replay", "why": "is DISABLED (disabled by operator)"}),
                "ALERT: feed: uncovered — its fallback replay is DISABLED (disabled by operator); nothing covers for feed until it is back",
            ),
            (
                LifecycleEvent::DisableRefused {
                    module: "engine".into(),
                    kind: ModuleKind::Service,
                    why: "never disabled".into(),
                },
                "module.disable_refused",
                json!({"module": "engine", "kind": "service", "why": "never disabled"}),
                "ALERT: never disabled",
            ),
        ];
        for (ev, kind, body, line) in cases {
            let ev = OpsEvent::Lifecycle(ev);
            assert_eq!(ev.record(), (kind, body));
            assert!(ev.logged());
            assert_eq!(ev.to_string(), line);
        }
    }
}
