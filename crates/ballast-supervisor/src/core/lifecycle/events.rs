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
    /// `service.fallback_engaged`: `fallback` started to cover for `service`.
    FallbackEngaged {
        service: String,
        fallback: String,
        why: String,
    },
    /// `service.fallback_released`: `service` is back; `fallback` stopped.
    FallbackReleased { service: String, fallback: String },
}

impl LifecycleEvent {
    pub fn kind(&self) -> &'static str {
        match self {
            LifecycleEvent::Disabled { .. } => "module.disabled",
            LifecycleEvent::Enabled { .. } => "module.enabled",
            LifecycleEvent::PersistFailed { .. } => "module.persist_failed",
            LifecycleEvent::StateUnreadable { .. } => "module.state_unreadable",
            LifecycleEvent::FallbackEngaged { .. } => "service.fallback_engaged",
            LifecycleEvent::FallbackReleased { .. } => "service.fallback_released",
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
            LifecycleEvent::FallbackEngaged {
                service,
                fallback,
                why,
            } => write!(
                f,
                "ALERT: {service}: {why}; its fallback {fallback} is started and covers for it"
            ),
            LifecycleEvent::FallbackReleased { service, fallback } => write!(
                f,
                "ALERT: {service}: back and running for its min uptime; its fallback {fallback} is stopped (STANDBY)"
            ),
        }
    }
}
