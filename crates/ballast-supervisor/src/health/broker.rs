//! The broker subsystem's checks: the engine's send errors, and its venue report's
//! compatibility check and reconciliation (the verdicts are the core's
//! [`ballast_core::health::venue`]).

use ballast_core::engine::VenueReport;
use ballast_core::health::{self, CheckResult, Status};

use super::Monitor;

impl Monitor {
    /// A check of the engine's venue report (UNKNOWN before the engine reports).
    pub(super) fn engine_check_of(
        &self,
        name: &str,
        f: fn(&VenueReport) -> CheckResult,
    ) -> CheckResult {
        match &self.engine {
            Some((s, _)) => f(&s.venue),
            None => CheckResult::new(name, Status::Unknown, "the engine has not reported yet"),
        }
    }

    pub(super) fn broker_check(&self) -> CheckResult {
        let h = &self.config.health;
        let (errors, sends) = self.send_errors.recent();
        let window_s = self.send_errors.window_ms() / 1000;
        self.engine_figure("errors", |s| {
            let st = health::error_rate(
                errors,
                sends,
                h.error_rate_degraded_pct,
                h.error_rate_critical_pct,
            );
            (
                st,
                format!(
                    "{} venue: {errors} of {sends} send(s) in the last {window_s} s without an answer ({} of {} in all), {} refused (degraded at {} %)",
                    if s.venue.broker.is_empty() {
                        "paper"
                    } else {
                        s.venue.broker.as_str()
                    },
                    s.unknown_outcomes,
                    s.orders_sent,
                    s.venue_rejections,
                    h.error_rate_degraded_pct
                ),
            )
        })
    }
}
