//! A reload's configuration handed to the running monitor: its subsystems registered again
//! (services and `[[checks]]` added or removed, new intervals), each kept subsystem's latest
//! results kept so its status does not blink to UNKNOWN until its check runs again (at the
//! next cycle, with its new definition), the new thresholds used from then on.

use std::sync::Arc;

use ballast_core::config::Config;

use super::Monitor;

impl Monitor {
    /// The period of the health cycle.
    pub fn cycle_every(&self) -> std::time::Duration {
        std::time::Duration::from_millis(u64::from(self.config.health.cycle_ms))
    }

    /// Take `config` from the next cycle on.
    pub fn reconfigure(&mut self, config: Arc<Config>) {
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
        // A service or check that went away leaves the issues with the next report.
        self.services_seen = None;
    }
}
