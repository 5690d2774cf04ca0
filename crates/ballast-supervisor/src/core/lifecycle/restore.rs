//! The disabled list taken at the start (and again after a reload): what `state/disabled.json`
//! may not decide. A critical service or check (the engine among them) is never disabled,
//! whatever the file says: such an entry is refused, reported (an ALERT in the ops journal
//! and the log, a line in `ballast status`, a finding in the health) and dropped from the
//! file. What the shell found wrong with the file itself (damaged, newer, unreadable, an
//! entry twice) is reported the same way.
#![deny(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    clippy::disallowed_macros
)]

use ballast_store::files::disabled::{DisabledModule, ModuleKind, Restored};

use super::{CheckModule, LifecycleEvent};
use crate::core::{OpsEvent, Output, SupervisorCore};

/// At most this many problems of the list are kept for `status` and the health (the first
/// ones; each is in the ops journal too).
pub const MAX_PROBLEMS: usize = 16;

/// What the core keeps of the list's problems.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListState {
    /// Each in words, for `ballast status` and the health (bounded by [`MAX_PROBLEMS`]).
    pub problems: Vec<String>,
    /// Why the file must not be overwritten, if it must not.
    pub keep: Option<String>,
}

impl ListState {
    pub(super) fn note(&mut self, problem: String) {
        if self.problems.len() < MAX_PROBLEMS && !self.problems.contains(&problem) {
            self.problems.push(problem);
        }
    }
}

/// Why `d` cannot be disabled under this configuration, if it cannot.
fn forbidden(
    d: &DisabledModule,
    specs: &[&crate::ServiceSpec],
    checks: &[CheckModule],
    gated: &[String],
) -> Option<&'static str> {
    match d.kind {
        ModuleKind::Service if gated.contains(&d.name) => Some("the engine"),
        ModuleKind::Service => specs
            .iter()
            .any(|s| s.name == d.name && s.critical)
            .then_some("a critical service"),
        ModuleKind::Check => checks
            .iter()
            .any(|c| c.name == d.name && c.critical)
            .then_some("a critical check"),
    }
}

/// The entries of `disabled` that may stand, and the ALERT of each refused one.
pub(super) fn refuse_critical(
    disabled: Vec<DisabledModule>,
    specs: &[&crate::ServiceSpec],
    checks: &[CheckModule],
    gated: &[String],
) -> (Vec<DisabledModule>, Vec<LifecycleEvent>) {
    let mut refused = Vec::new();
    let kept = disabled
        .into_iter()
        .filter(|d| match forbidden(d, specs, checks, gated) {
            None => true,
            Some(what) => {
                refused.push(LifecycleEvent::DisableRefused {
                    module: d.name.clone(),
                    kind: d.kind,
                    why: format!(
                        "{} lists {} {} as disabled ({}, by {}), but it is {what}: a critical module is never disabled; it runs as usual and the entry is dropped",
                        ballast_core::layout::rel::DISABLED,
                        d.kind.as_str(),
                        d.name,
                        d.reason,
                        d.by
                    ),
                });
                false
            }
        })
        .collect();
    (kept, refused)
}

impl SupervisorCore {
    /// Take the list the shell read at the start: what it found wrong, then the entries
    /// that may stand. The file is rewritten when an entry was dropped.
    pub(in crate::core) fn restore_disabled(&mut self, restored: Restored, gated: &[String]) {
        let Restored {
            modules,
            problems,
            keep,
        } = restored;
        let mut dropped = false;
        for problem in problems {
            // A duplicate is dropped from the file; a damaged or unreadable file is the
            // state-unreadable alert.
            let duplicate = problem.contains("more than once");
            dropped |= duplicate;
            if duplicate {
                self.log(problem.clone());
            } else {
                self.ops(OpsEvent::Lifecycle(LifecycleEvent::StateUnreadable {
                    error: problem.clone(),
                }));
            }
            self.list.note(problem);
        }
        self.list.keep = keep;
        let specs: Vec<&crate::ServiceSpec> = self.slots.iter().map(|s| &s.spec).collect();
        let (kept, gone) = super::still_declared(modules, &specs, &self.checks);
        dropped |= gone.is_some();
        if let Some(line) = gone {
            self.log(line);
        }
        self.disabled = kept;
        dropped |= self.refuse_forbidden(gated);
        self.refresh_modules();
        if dropped && self.list.keep.is_none() {
            self.persist_disabled(None);
        }
    }

    /// Drop every disabled entry that names a critical module (after a reload made one
    /// critical, too), each an ALERT and a problem; true when one was dropped (the caller
    /// rewrites the file).
    pub(super) fn refuse_forbidden(&mut self, gated: &[String]) -> bool {
        let specs: Vec<&crate::ServiceSpec> = self.slots.iter().map(|s| &s.spec).collect();
        let disabled = std::mem::take(&mut self.disabled);
        let (kept, refused) = refuse_critical(disabled, &specs, &self.checks, gated);
        self.disabled = kept;
        let any = !refused.is_empty();
        for ev in refused {
            if let LifecycleEvent::DisableRefused { why, .. } = &ev {
                self.list.note(why.clone());
            }
            self.out.push_back(Output::Ops(OpsEvent::Lifecycle(ev)));
        }
        any
    }

    /// The problems of the disabled list, for `ballast status` and the health monitor.
    pub fn disabled_list_problems(&self) -> &[String] {
        &self.list.problems
    }
}
