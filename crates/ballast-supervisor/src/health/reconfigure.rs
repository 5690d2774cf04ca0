//! A reload's configuration handed to the running monitor: its subsystems registered again
//! (services and `[[checks]]` added or removed, new intervals), each kept subsystem's latest
//! results kept so its status does not blink to UNKNOWN until its check runs again (at the
//! next cycle, with its new definition), the new thresholds used from then on.

use std::sync::Arc;

use ballast_core::config::Config;

use ballast_core::health::{CheckResult, Status};

use super::{Entry, Inputs, Monitor, Probe};

impl Monitor {
    /// The period of the health cycle.
    pub fn cycle_every(&self) -> std::time::Duration {
        std::time::Duration::from_millis(u64::from(self.config.health.cycle_ms))
    }

    /// Take `config` from the next cycle on.
    pub fn reconfigure(&mut self, config: Arc<Config>) {
        let watched = self
            .entries
            .iter()
            .any(|e| matches!(e.probe, Probe::Config));
        let fresh = Monitor::new(
            &self.data_dir,
            Arc::clone(&config),
            Arc::clone(&self.clock),
            Arc::clone(&self.exits),
        );
        let mut entries = fresh.entries;
        for e in &mut entries {
            // Every check runs at the next cycle (`due` is none), with the new definition.
            if let Some(old) = self
                .entries
                .iter()
                .find(|o| o.subsystem.name == e.subsystem.name)
            {
                e.last.clone_from(&old.last);
                e.checked_at = old.checked_at;
            }
        }
        self.entries = entries;
        self.config = config;
        self.config_since = self.clock.now();
        if watched {
            self.watch_config_file();
        }
        // A service or check that went away leaves the issues with the next report.
        self.services_seen = None;
    }
}

/// Errors shown in a check's detail, at most (`ballast check` shows them all).
const ERRORS_SHOWN: usize = 5;

/// The configuration file's checks: `file` (it validates and can be applied) and
/// `reload_HASH` (it differs from what runs: a `reload_config` recommendation).
pub(super) fn config_checks(inputs: &Inputs) -> Vec<CheckResult> {
    use crate::core::FileSeen;
    let healthy = |name: &str, detail: &str| CheckResult::new(name, Status::Healthy, detail);
    let in_force = "the file is the configuration in force";
    match &inputs.config_file {
        FileSeen::NotWatched | FileSeen::InForce => {
            vec![
                healthy("file", in_force),
                healthy("reload", "nothing to reload"),
            ]
        }
        FileSeen::Invalid(errors) => {
            let shown: Vec<&str> = errors
                .iter()
                .take(ERRORS_SHOWN)
                .map(|e| e.lines().next().unwrap_or(""))
                .collect();
            let more = errors.len().saturating_sub(ERRORS_SHOWN);
            vec![
                CheckResult::new(
                    "file",
                    Status::Degraded,
                    format!(
                        "the configuration file on disk does not validate ({} error(s)): {}{}; the configuration in force stays — fix the file (`ballast check` lists every error) or put it back",
                        errors.len(),
                        shown.join("; "),
                        if more > 0 {
                            format!("; and {more} more")
                        } else {
                            String::new()
                        }
                    ),
                ),
                healthy("reload", "nothing to reload"),
            ]
        }
        FileSeen::Refused(keys) => vec![
            CheckResult::new(
                "file",
                Status::Degraded,
                format!(
                    "the configuration file on disk changes what cannot change while Ballast runs: {}; the configuration in force stays",
                    keys.join("; ")
                ),
            ),
            healthy("reload", "nothing that can be reloaded"),
        ],
        FileSeen::Differs {
            hash,
            changes,
            actions,
        } => vec![
            healthy("file", "the file on disk validates"),
            CheckResult::new(
                format!("reload_{}", hash.trim_start_matches("crc32c:")),
                Status::Degraded,
                format!(
                    "the configuration file changed on disk and differs from what runs: {} change(s) not applied ({}); it takes: {} — approve the reload_config recommendation, or `ballast reload`",
                    changes.len(),
                    changes.join(", "),
                    actions.join("; ")
                ),
            ),
        ],
    }
}

impl Monitor {
    /// Register the configuration file's subsystem (`configuration`; critical: the next start of
    /// `ballast run` reads the file).
    pub fn watch_config_file(&mut self) {
        if self
            .entries
            .iter()
            .any(|e| matches!(e.probe, Probe::Config))
        {
            return;
        }
        let interval_ms =
            ballast_core::time::ms_from_secs(self.config.health.critical_interval_secs);
        self.entries.push(Entry {
            subsystem: ballast_core::health::Subsystem {
                name: "configuration".to_owned(),
                critical: true,
                impacts_trading: false,
                depends_on: Vec::new(),
                interval_ms,
            },
            probe: Probe::Config,
            due: None,
            last: Vec::new(),
            checked_at: None,
        });
    }
}
