//! The guard subsystem's `settings` check: whether the engine judges by the settings of the
//! configuration in force, from its heartbeat ([`SettingsCheck`]). A refused settings file (a
//! rolled-back or hand-written one) or settings that differ from the configuration in force
//! make it DEGRADED with the engine's reason; a file waiting for the configuration in force to
//! catch up (a reload between its two writes) is HEALTHY.

use ballast_core::engine::EngineStatus;
use ballast_core::engine::settings_gate::SettingsCheck;
use ballast_core::health::{CheckResult, Status};

/// The check from the engine's last heartbeat (UNKNOWN before it reported).
pub(super) fn settings_check(engine: Option<&EngineStatus>) -> CheckResult {
    let Some(s) = engine else {
        return CheckResult::new(
            "settings",
            Status::Unknown,
            "the engine has not reported yet",
        );
    };
    let (status, detail) = match &s.settings {
        SettingsCheck::NotFollowed => (
            Status::Healthy,
            "the engine does not report its settings against the configuration in force (an older engine)".to_owned(),
        ),
        SettingsCheck::InForce { hash } => (
            Status::Healthy,
            format!("the engine judges by the settings of the configuration in force {hash}"),
        ),
        SettingsCheck::Waiting { detail } => (Status::Healthy, detail.clone()),
        SettingsCheck::Refused { detail } | SettingsCheck::Differs { detail } => {
            (Status::Degraded, detail.clone())
        }
    };
    CheckResult::new("settings", status, detail)
}
