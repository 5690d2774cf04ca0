//! The module lifecycle, decided in the pure core (issue 12 items 2 and 3): disabling and
//! enabling a supportive service or a `[[checks]]` entry (`ballast disable` / `enable`, an
//! approved `disable_module`, a module's `on_failure = "disable"`), and the fallback services
//! (`fallback = "NAME"`: STANDBY until its primary is FAILED or disabled, started then, stopped
//! once the primary runs again for its min uptime).
//!
//! The disabled modules are the operator's decisions: each change is written to
//! `state/disabled.json` (a [`FileWrite::Disabled`]) and restored from it at the next start.
//! A critical service or check is never disabled, by anyone.
#![deny(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    clippy::disallowed_macros
)]

use std::time::Instant;

use ballast_core::health::lifecycle::ModuleRecovery;
use ballast_core::health::{CheckResult, Report, Status, SubsystemHealth, SubsystemId};
use ballast_core::supervisor::{ControlPlan, ServiceState};
use ballast_store::files::disabled::{DisabledFile, DisabledModule, ModuleKind};

use super::{After, ControlError, FileWrite, Now, OpsEvent, SupervisorCore, Token, View};

pub mod events;
pub mod restore;
pub use events::LifecycleEvent;

/// A declared `[[checks]]` entry, as the core needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckModule {
    pub name: String,
    pub critical: bool,
    /// `on_failure = "disable"`.
    pub disable_on_failure: bool,
}

impl CheckModule {
    /// The declared `[[checks]]` of `config`, as the lifecycle acts on them.
    pub fn of_config(config: &ballast_core::config::Config) -> Vec<CheckModule> {
        config
            .checks
            .iter()
            .map(|c| CheckModule {
                name: c.name.clone(),
                critical: c.critical,
                disable_on_failure: c.on_failure == ballast_core::config::OnFailure::Disable,
            })
            .collect()
    }
}

/// Who asks for a disable or an enable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    Operator,
    Approval,
    OnFailure,
}

impl By {
    fn as_str(self) -> &'static str {
        match self {
            By::Operator => "operator",
            By::Approval => "approved recommendation",
            By::OnFailure => "on_failure",
        }
    }
}

/// The recovery each subsystem allows besides a restart (for the governor's advice).
pub(super) fn modules(
    specs: &[&crate::ServiceSpec],
    checks: &[CheckModule],
) -> std::collections::BTreeMap<String, ModuleRecovery> {
    let services = specs.iter().map(|s| {
        let m = ModuleRecovery {
            disable: (!s.critical).then_some(s.on_failure_disable),
            fallback: s.fallback.clone(),
            service: true,
        };
        (SubsystemId::of_service(&s.name).to_string(), m)
    });
    let checks = checks.iter().filter(|c| !c.critical).map(|c| {
        let m = ModuleRecovery {
            disable: Some(c.disable_on_failure),
            fallback: None,
            service: false,
        };
        (c.name.clone(), m)
    });
    services.chain(checks).collect()
}

/// The restored disabled modules that are still declared, and a line naming those that are
/// not (they are dropped from the list at its next write).
pub(super) fn still_declared(
    disabled: Vec<DisabledModule>,
    specs: &[&crate::ServiceSpec],
    checks: &[CheckModule],
) -> (Vec<DisabledModule>, Option<String>) {
    let (kept, gone): (Vec<_>, Vec<_>) = disabled.into_iter().partition(|d| match d.kind {
        ModuleKind::Service => specs.iter().any(|s| s.name == d.name),
        ModuleKind::Check => checks.iter().any(|c| c.name == d.name),
    });
    let line = (!gone.is_empty()).then(|| {
        let names: Vec<String> = gone
            .iter()
            .map(|d| format!("{} {}", d.kind.as_str(), d.name))
            .collect();
        format!(
            "{}: {} disabled but no longer declared; forgotten",
            ballast_core::layout::rel::DISABLED,
            names.join(", ")
        )
    });
    (kept, line)
}

impl SupervisorCore {
    /// After a reload changed the services or checks: the declared checks, and what each
    /// subsystem allows besides a restart, taken again from the current slots.
    pub fn reconfigure_lifecycle(&mut self, checks: Vec<CheckModule>) {
        let specs: Vec<&crate::ServiceSpec> = self.slots.iter().map(|s| &s.spec).collect();
        self.governor.modules = modules(&specs, &checks);
        self.checks = checks;
        self.refresh_modules();
        // A module the new configuration makes critical is enabled again.
        let gated = self.gated.clone();
        if self.refuse_forbidden(&gated) {
            self.persist_disabled(None);
        }
    }

    /// What the governor may advise, from the slots, the checks and the disabled list: a
    /// disabled fallback is not offered as a switch to backup.
    pub(super) fn refresh_modules(&mut self) {
        let specs: Vec<&crate::ServiceSpec> = self.slots.iter().map(|s| &s.spec).collect();
        let mut m = modules(&specs, &self.checks);
        for r in m.values_mut() {
            if r.fallback.as_deref().is_some_and(|f| {
                self.disabled
                    .iter()
                    .any(|d| d.kind == ModuleKind::Service && d.name == f)
            }) {
                r.fallback = None;
            }
        }
        self.governor.modules = m;
    }

    /// The disabled entry of a module, if it is disabled.
    pub(super) fn disabled_entry(&self, kind: ModuleKind, name: &str) -> Option<&DisabledModule> {
        self.disabled
            .iter()
            .find(|d| d.kind == kind && d.name == name)
    }

    /// Each disabled module as `ballast status` lists it.
    pub(super) fn disabled_lines(&self) -> Vec<String> {
        self.disabled
            .iter()
            .map(|d| format!("{} {}: {} (by {})", d.kind.as_str(), d.name, d.reason, d.by))
            .collect()
    }

    /// The disabled checks and why (what the health monitor does not run).
    pub fn disabled_checks(&self) -> Vec<(String, String)> {
        self.disabled
            .iter()
            .filter(|d| d.kind == ModuleKind::Check)
            .map(|d| (d.name.clone(), d.reason.clone()))
            .collect()
    }

    /// Slot `i` is a fallback that no primary needs now (it is not started).
    pub(super) fn standing_by(&self, i: usize) -> bool {
        let s = &self.slots[i];
        s.covering.is_none()
            && self
                .slots
                .iter()
                .any(|p| p.spec.fallback.as_deref() == Some(s.spec.name.as_str()))
    }

    /// A service or check by the name an operator gave (`NAME`, `service:NAME`, `check:NAME`).
    fn module(&self, name: &str) -> Result<(ModuleKind, String), ControlError> {
        let service = |n: &str| self.slot_of(n).is_some();
        let check = |n: &str| self.checks.iter().any(|c| c.name == n);
        if let Some(n) = SubsystemId::parse(name).service().filter(|n| service(n)) {
            return Ok((ModuleKind::Service, n.to_owned()));
        }
        if let Some(n) = name.strip_prefix("check:").filter(|n| check(n)) {
            return Ok((ModuleKind::Check, n.to_owned()));
        }
        match (service(name), check(name)) {
            (true, true) => Err(ControlError::NotFound(format!(
                "\"{name}\" is both a service and a check: say service:{name} or check:{name}"
            ))),
            (true, false) => Ok((ModuleKind::Service, name.to_owned())),
            (false, true) => Ok((ModuleKind::Check, name.to_owned())),
            (false, false) => {
                let names = |it: &mut dyn Iterator<Item = &str>| {
                    let v: Vec<&str> = it.collect();
                    if v.is_empty() {
                        "none".to_owned()
                    } else {
                        v.join(", ")
                    }
                };
                let services = names(&mut self.service_names().into_iter());
                let checks = names(&mut self.checks.iter().map(|c| c.name.as_str()));
                Err(ControlError::NotFound(format!(
                    "no service or check named \"{name}\"; the services are: {services}; the checks ([[checks]]): {checks}"
                )))
            }
        }
    }

    /// `ballast disable NAME`.
    pub(super) fn disable_request(&mut self, token: Token, name: &str, now: Now) {
        let done = self
            .module(name)
            .and_then(|(kind, name)| self.disable(kind, &name, By::Operator, None, now));
        match done {
            Ok(message) => self.persist_disabled(Some((token, message))),
            Err(e) => self.reply(token, Err(e)),
        }
    }

    /// `ballast enable NAME`.
    pub(super) fn enable_request(&mut self, token: Token, name: &str) {
        let done = self
            .module(name)
            .and_then(|(kind, name)| self.enable(kind, &name, By::Operator));
        match done {
            Ok(message) => self.persist_disabled(Some((token, message))),
            Err(e) => self.reply(token, Err(e)),
        }
    }

    /// An approved `disable_module` recommendation of subsystem `target`.
    pub(super) fn disable_approved(&mut self, token: Token, id: &str, target: &str, now: Now) {
        let kind = if SubsystemId::parse(target).service().is_some() {
            ModuleKind::Service
        } else {
            ModuleKind::Check
        };
        let name = SubsystemId::parse(target)
            .service()
            .unwrap_or(target)
            .to_owned();
        match self.disable(kind, &name, By::Approval, None, now) {
            Ok(message) => {
                self.persist_disabled(Some((token, format!("{id} approved: {message}"))))
            }
            Err(e) => self.reply(
                token,
                Err(ControlError::Failed(format!("{id} approved, but {e}"))),
            ),
        }
    }

    /// Disable a module: decided and carried out in the core; the caller persists the list.
    fn disable(
        &mut self,
        kind: ModuleKind,
        name: &str,
        by: By,
        why: Option<String>,
        now: Now,
    ) -> Result<String, ControlError> {
        let what = kind.as_str();
        if let (Some(keep), By::Operator | By::Approval) = (&self.list.keep, by) {
            return Err(ControlError::Refused(format!(
                "{what} {name} is not disabled: {keep}; fix or move the file away, then restart the supervisor"
            )));
        }
        if let Some(d) = self.disabled_entry(kind, name) {
            return Err(ControlError::Conflict(format!(
                "{what} {name} is already disabled ({}); `ballast enable {name}` brings it back",
                d.reason
            )));
        }
        let critical = match kind {
            ModuleKind::Service => self
                .slot_of(name)
                .is_some_and(|i| self.slots[i].spec.critical),
            ModuleKind::Check => self.checks.iter().any(|c| c.name == name && c.critical),
        };
        if critical {
            let instead = match kind {
                ModuleKind::Service => format!(
                    "`ballast kill` halts trading; `ballast restart {name}` restarts it"
                ),
                ModuleKind::Check => {
                    "fix what it watches, or make it supportive (critical = false) in the configuration and `ballast reload`".to_owned()
                }
            };
            return Err(ControlError::Refused(format!(
                "{name} is a critical {what} and is never disabled: {instead}"
            )));
        }
        let reason = match (by, why) {
            (_, Some(why)) => why,
            (By::Operator, None) => "disabled by operator".to_owned(),
            (_, None) => format!("disabled by {}", by.as_str()),
        };
        self.disabled.push(DisabledModule {
            name: name.to_owned(),
            kind,
            reason: reason.clone(),
            by: by.as_str().to_owned(),
            at: now.wall,
        });
        self.refresh_modules();
        self.ops(OpsEvent::Lifecycle(LifecycleEvent::Disabled {
            module: name.to_owned(),
            kind,
            by: by.as_str().to_owned(),
            reason,
        }));
        let Some(i) = self.slot_of(name).filter(|_| kind == ModuleKind::Service) else {
            return Ok(format!(
                "check {name}: DISABLED — not run, not counted in the health; `ballast enable {name}` runs it again"
            ));
        };
        let slot = &mut self.slots[i];
        slot.wanted = false;
        slot.restart_at = None;
        // Already stopping (an enable or a restart asked to start it once reaped): it now
        // stays down.
        if let Some(st) = &mut slot.stopping {
            st.then_start = false;
        }
        let pid = slot.proc.map(|p| p.pid);
        self.stop_slot(i, false, now);
        let stopping = match pid {
            Some(pid) => format!("stopping pid {pid}; "),
            None => String::new(),
        };
        Ok(format!(
            "service {name}: DISABLED — {stopping}kept stopped and not counted in the health; `ballast enable {name}` starts it again"
        ))
    }

    fn enable(&mut self, kind: ModuleKind, name: &str, by: By) -> Result<String, ControlError> {
        let Some(at) = self
            .disabled
            .iter()
            .position(|d| d.kind == kind && d.name == name)
        else {
            return Err(ControlError::InvalidState(format!(
                "{} {name} is not disabled",
                kind.as_str()
            )));
        };
        self.disabled.remove(at);
        self.refresh_modules();
        self.ops(OpsEvent::Lifecycle(LifecycleEvent::Enabled {
            module: name.to_owned(),
            kind,
            by: by.as_str().to_owned(),
        }));
        let Some(i) = self.slot_of(name).filter(|_| kind == ModuleKind::Service) else {
            return Ok(format!("check {name}: enabled; it runs again from now"));
        };
        let slot = &mut self.slots[i];
        slot.wanted = true;
        slot.restart_at = None;
        // Its disable is still stopping it: started again once it is reaped (as `restart`).
        let reaping = slot.stopping.as_mut().map(|st| st.then_start = true);
        // A fresh failure budget: it was disabled, not given up on.
        slot.svc.make_startable(&ControlPlan::ClearThenStart);
        slot.svc.make_startable(&ControlPlan::StartNow);
        Ok(if self.standing_by(i) {
            format!("service {name}: enabled; it stands by (STANDBY) as a fallback")
        } else if reaping.is_some() {
            format!(
                "service {name}: enabled; its process is still stopping: it starts again once it is down"
            )
        } else {
            format!("service {name}: enabled; starting")
        })
    }

    /// Write the disabled list; `reply`: the operator's request answered once it is written.
    pub(super) fn persist_disabled(&mut self, reply: Option<(Token, String)>) {
        if let Some(keep) = self.list.keep.clone() {
            return self.disabled_written(reply, Err(keep));
        }
        let file = DisabledFile {
            version: ballast_store::files::VERSION,
            modules: self.disabled.clone(),
        };
        self.write(FileWrite::Disabled(file), After::Disabled(reply));
    }

    /// `state/disabled.json` was written (or not).
    pub(super) fn disabled_written(
        &mut self,
        reply: Option<(Token, String)>,
        result: Result<String, String>,
    ) {
        if let Err(error) = &result {
            self.ops(OpsEvent::Lifecycle(LifecycleEvent::PersistFailed {
                error: error.clone(),
            }));
        }
        let Some((token, message)) = reply else {
            return;
        };
        let answer = match result {
            Ok(_) => Ok(View::Done(message)),
            Err(e) => Err(ControlError::Failed(format!(
                "{message}; but it is not saved ({e}): it does not survive a supervisor restart"
            ))),
        };
        self.reply(token, answer);
    }

    /// A service became FAILED: with `on_failure = "disable"` (supportive only), it is disabled.
    pub(super) fn service_failed(&mut self, i: usize, reason: &str, now: Now) {
        let spec = &self.slots[i].spec;
        if !spec.on_failure_disable || spec.critical {
            return;
        }
        let name = spec.name.clone();
        let why = format!("on_failure = \"disable\": FAILED ({reason})");
        if self
            .disable(ModuleKind::Service, &name, By::OnFailure, Some(why), now)
            .is_ok()
        {
            self.persist_disabled(None);
        }
    }

    /// A health cycle's checks: a supportive check with `on_failure = "disable"` that is
    /// CRITICAL or FAILED is disabled.
    pub(super) fn checks_measured(&mut self, report: &Report, now: Now) {
        let failing: Vec<(String, String)> = report
            .subsystems
            .iter()
            .filter(|s| s.status >= Status::Critical)
            .filter(|s| {
                self.checks
                    .iter()
                    .any(|c| c.name == s.subsystem.name && c.disable_on_failure && !c.critical)
            })
            .map(|s| {
                let detail = s
                    .checks
                    .iter()
                    .map(|c| format!("{} {}", c.status.as_str(), c.detail));
                (
                    s.subsystem.name.clone(),
                    detail.collect::<Vec<_>>().join("; "),
                )
            })
            .collect();
        let mut changed = false;
        for (name, detail) in &failing {
            if self.disabled_entry(ModuleKind::Check, name).is_some() {
                continue;
            }
            let why = format!("on_failure = \"disable\": {detail}");
            changed |= self
                .disable(ModuleKind::Check, name, By::OnFailure, Some(why), now)
                .is_ok();
        }
        if changed {
            self.persist_disabled(None);
        }
    }

    /// `report` with every disabled module's subsystem DISABLED: the monitor's cycle may have
    /// measured it before it heard of the disable.
    pub(super) fn mask_disabled(&self, report: Report) -> Report {
        let entry = |name: &str| match SubsystemId::parse(name).service() {
            Some(n) => self.disabled_entry(ModuleKind::Service, n),
            None => self.disabled_entry(ModuleKind::Check, name),
        };
        let stale = |s: &SubsystemHealth| {
            s.status != Status::Disabled && entry(&s.subsystem.name).is_some()
        };
        if !report.subsystems.iter().any(stale) {
            return report;
        }
        let Report {
            at,
            subsystems,
            issues,
            ..
        } = report;
        let subsystems = subsystems
            .into_iter()
            .map(|mut s| {
                if let Some(d) = entry(&s.subsystem.name).filter(|_| stale(&s)) {
                    let check = s
                        .checks
                        .first()
                        .map_or("state".to_owned(), |c| c.name.clone());
                    let detail = format!("DISABLED: {}", d.reason);
                    s.checks = vec![CheckResult::new(check, Status::Disabled, detail)];
                    s.status = Status::Disabled;
                }
                s
            })
            .collect();
        Report::build(subsystems, &issues, at)
    }

    /// Why slot `f` (a fallback) cannot cover now, if it cannot: disabled, FAILED, removed.
    fn cannot_cover(&self, f: usize) -> Option<String> {
        let fb = &self.slots[f];
        if let Some(d) = self.disabled_entry(ModuleKind::Service, &fb.spec.name) {
            return Some(format!("is DISABLED ({})", d.reason));
        }
        if fb.retired {
            return Some("was removed from the configuration".to_owned());
        }
        matches!(
            fb.svc.state,
            ServiceState::Failed | ServiceState::FailedConfig
        )
        .then(|| format!("is {}", fb.svc.state.as_str()))
    }

    /// Engage or release the fallbacks: a primary FAILED or disabled has its fallback
    /// started — unless that fallback cannot cover (disabled, FAILED), which is said once;
    /// one back and RUNNING for its min uptime has it stopped again; a fallback that can no
    /// longer cover ends its cover, with an alert. Starts happen at the next `start_due`
    /// (the end of the wake-up).
    pub(super) fn fallbacks(&mut self, now: Now) {
        for p in 0..self.slots.len() {
            let Some(f) = self.slots[p]
                .spec
                .fallback
                .as_deref()
                .and_then(|n| self.slot_of(n))
            else {
                continue;
            };
            let primary = &self.slots[p];
            let name = primary.spec.name.clone();
            let disabled = self.disabled_entry(ModuleKind::Service, &name).is_some();
            let down = disabled
                || matches!(
                    primary.svc.state,
                    ServiceState::Failed | ServiceState::FailedConfig
                );
            let back = !disabled
                && primary.svc.state == ServiceState::Running
                && primary
                    .proc
                    .is_some_and(|pr| now.at >= pr.started + primary.spec.min_uptime);
            let why_down = if disabled {
                "disabled".to_owned()
            } else {
                primary.svc.state.as_str().to_owned()
            };
            let fallback = self.slots[f].spec.name.clone();
            let cannot = self.cannot_cover(f);
            match (self.slots[f].covering.is_some(), down, back, cannot) {
                (true, _, true, _) => {
                    let fb = &mut self.slots[f];
                    fb.covering = None;
                    fb.wanted = false;
                    // The next cover starts with a fresh failure budget.
                    fb.svc.make_startable(&ControlPlan::ClearThenStart);
                    self.stop_slot(f, false, now);
                    self.ops(OpsEvent::Lifecycle(LifecycleEvent::FallbackReleased {
                        service: name,
                        fallback,
                    }));
                }
                (true, _, _, Some(why)) => {
                    // The cover ends: whatever made it unable stops it (a disable) or it
                    // is down already (FAILED).
                    self.slots[f].covering = None;
                    self.uncovered.insert(name.clone());
                    self.ops(OpsEvent::Lifecycle(LifecycleEvent::Uncovered {
                        service: name,
                        fallback,
                        why: format!("stopped covering: it {why}"),
                    }));
                }
                (false, true, _, None) => {
                    self.uncovered.remove(&name);
                    let fb = &mut self.slots[f];
                    fb.covering = Some(name.clone());
                    fb.wanted = true;
                    fb.restart_at = None;
                    self.ops(OpsEvent::Lifecycle(LifecycleEvent::FallbackEngaged {
                        service: name,
                        fallback,
                        why: why_down,
                    }));
                }
                (false, true, _, Some(why)) if self.uncovered.insert(name.clone()) => {
                    self.ops(OpsEvent::Lifecycle(LifecycleEvent::Uncovered {
                        service: name,
                        fallback,
                        why: format!("cannot cover for it ({why_down}): it {why}"),
                    }));
                }
                (false, false, ..) => {
                    self.uncovered.remove(&name);
                }
                _ => {}
            }
        }
    }

    /// Slot `i`'s fallback process really runs for a primary (started, not being stopped):
    /// the primary it covers.
    pub(super) fn covering_now(&self, i: usize) -> Option<&str> {
        let s = &self.slots[i];
        s.covering
            .as_deref()
            .filter(|_| s.proc.is_some() && s.stopping.is_none())
    }

    /// When a covered primary will have run for its min uptime (a release is due then).
    pub(super) fn fallback_wakeup(&self, now: Instant) -> Option<Instant> {
        self.slots
            .iter()
            .filter(|f| f.covering.is_some())
            .filter_map(|f| self.slot_of(f.covering.as_deref()?))
            .filter_map(|p| {
                let s = &self.slots[p];
                let up = s.proc?.started + s.spec.min_uptime;
                (up > now).then_some(up)
            })
            .min()
    }
}
