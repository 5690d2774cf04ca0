//! The guard subsystem's `settings` check: whether the engine judges by the settings of the
//! configuration in force, from its heartbeat ([`SettingsCheck`]). A refused settings file (a
//! rolled-back or hand-written one) or settings that differ from the configuration in force
//! make it DEGRADED with the engine's reason; a file waiting for the configuration in force to
//! catch up (a reload between its two writes) is HEALTHY.

use ballast_core::engine::EngineSettings;
use ballast_core::engine::settings_gate::{SettingsCheck, supervisor_view};
use ballast_core::health::{CheckResult, Status};

use super::Monitor;

impl Monitor {
    /// The check from the engine's last heartbeat (UNKNOWN before it reported), against the
    /// configuration in force of this supervisor (settled after `engine_degraded_secs`).
    pub(super) fn settings_check(&self) -> CheckResult {
        let Some((s, _)) = &self.engine else {
            return CheckResult::new(
                "settings",
                Status::Unknown,
                "the engine has not reported yet",
            );
        };
        let grace = ballast_core::time::ms_from_secs(self.config.health.engine_degraded_secs);
        let settled = self.clock.now().ms_since(self.config_since) > grace;
        let wanted = EngineSettings::of(&self.config);
        if let Some(why) = supervisor_view(&s.settings, &wanted, settled) {
            return CheckResult::new("settings", Status::Degraded, why);
        }
        let detail = match &s.settings {
            SettingsCheck::NotFollowed => {
                "the engine does not report its settings against the configuration in force (an older engine)".to_owned()
            }
            SettingsCheck::InForce { hash, .. } => {
                format!("the engine judges by the settings of the configuration in force {hash}")
            }
            SettingsCheck::Waiting { detail }
            | SettingsCheck::Refused { detail }
            | SettingsCheck::Differs { detail } => detail.clone(),
        };
        CheckResult::new("settings", Status::Healthy, detail)
    }
}
