//! The ops events counted for the metrics (issue 13 item 7): the same values the ops journal
//! records, folded as they are emitted — so a scrape reads counters, never the journal. Pure.
//!
//! Bounded: one entry per (component, outcome) and per service, at most
//! [`crate::limits::OPS_COUNTED_KEYS_COUNT`] of each; past the bound, new names count under
//! `other` (the totals stay right; only the split is coarser).

use std::collections::BTreeMap;

use crate::core::OpsEvent;
use crate::limits::OPS_COUNTED_KEYS_COUNT as MAX_KEYS;

/// What a heal came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum HealOutcome {
    /// Carried out.
    Applied,
    /// Tried and failed (retried by the next sweep).
    Failed,
    /// Dangerous: never applied, an operator's.
    Dangerous,
    /// Skipped by the mode (dry run, live).
    Skipped,
}

impl HealOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            HealOutcome::Applied => "applied",
            HealOutcome::Failed => "failed",
            HealOutcome::Dangerous => "dangerous",
            HealOutcome::Skipped => "skipped",
        }
    }
}

/// Counters of the ops events since the supervisor started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpsCounts {
    /// Heals by component and outcome.
    pub heals: BTreeMap<(String, HealOutcome), u64>,
    /// Liveness kills and unrequested exits by service.
    pub liveness_kills: BTreeMap<String, u64>,
    pub unrequested_exits: BTreeMap<String, u64>,
    pub policy_changes: u64,
    pub health_changes: u64,
    /// Recommendations decided by an operator (approved or rejected) or expired.
    pub recommendations_decided: u64,
    /// Events the ops journal's queue could not take (journaled later as `ops.dropped`).
    pub ops_dropped: u64,
}

/// The key to count under: `name` itself, or `other` once `map` holds its bound of names.
fn key<K: Ord, V>(map: &BTreeMap<K, V>, name: &str, make: impl Fn(&str) -> K) -> K {
    let k = make(name);
    if map.contains_key(&k) || map.len() < MAX_KEYS {
        k
    } else {
        make("other")
    }
}

fn bump<K: Ord>(map: &mut BTreeMap<K, u64>, k: K) {
    let n = map.entry(k).or_default();
    *n = n.saturating_add(1);
}

impl OpsCounts {
    /// Count one event.
    pub fn count(&mut self, ev: &OpsEvent) {
        match ev {
            OpsEvent::HealApplied(a) => {
                let outcome = if a.error.is_none() {
                    HealOutcome::Applied
                } else {
                    HealOutcome::Failed
                };
                self.heal(&a.action.component, outcome);
            }
            OpsEvent::HealFinding(a) => {
                let outcome = if a.class == ballast_core::heal::Class::Dangerous {
                    HealOutcome::Dangerous
                } else {
                    HealOutcome::Skipped
                };
                self.heal(&a.component, outcome);
            }
            OpsEvent::LivenessKill { service, .. } => {
                let k = key(&self.liveness_kills, service, str::to_owned);
                bump(&mut self.liveness_kills, k);
            }
            OpsEvent::ServiceExited {
                service,
                requested: false,
                ..
            } => {
                let k = key(&self.unrequested_exits, service, str::to_owned);
                bump(&mut self.unrequested_exits, k);
            }
            OpsEvent::PolicyChanged { .. } => self.policy_changes += 1,
            OpsEvent::HealthChanged { .. } => self.health_changes += 1,
            OpsEvent::RecommendationApproved(_)
            | OpsEvent::RecommendationRejected(_)
            | OpsEvent::RecommendationExpired(_) => self.recommendations_decided += 1,
            _ => {}
        }
    }

    fn heal(&mut self, component: &str, outcome: HealOutcome) {
        let k = key(&self.heals, component, |c| (c.to_owned(), outcome));
        bump(&mut self.heals, k);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exit(service: &str, requested: bool) -> OpsEvent {
        OpsEvent::ServiceExited {
            service: service.into(),
            pid: 1,
            how: "killed by SIGKILL".into(),
            requested,
            liveness_kill: false,
        }
    }

    #[test]
    fn unrequested_exits_are_counted_by_service_and_requested_ones_not() {
        let mut c = OpsCounts::default();
        c.count(&exit("engine", false));
        c.count(&exit("engine", false));
        c.count(&exit("engine", true));
        c.count(&exit("bot", false));
        assert_eq!(c.unrequested_exits.get("engine"), Some(&2));
        assert_eq!(c.unrequested_exits.get("bot"), Some(&1));
    }

    fn action(component: &str, class: ballast_core::heal::Class) -> ballast_core::heal::Action {
        ballast_core::heal::Action {
            component: component.into(),
            target: "journal/engine".into(),
            class,
            failure: ballast_core::heal::FailureClass::Transient,
            op: ballast_core::heal::Op::CreateDir,
            reason: "missing".into(),
        }
    }

    #[test]
    fn heals_are_counted_by_component_and_outcome() {
        use ballast_core::heal::Class;
        let applied = |error: Option<&str>| {
            OpsEvent::HealApplied(crate::heal::Applied {
                action: action("data_dirs", Class::Heal),
                error: error.map(str::to_owned),
                before: "missing".into(),
                after: "directory".into(),
                quarantined: None,
            })
        };
        let mut c = OpsCounts::default();
        c.count(&applied(None));
        c.count(&applied(None));
        c.count(&applied(Some("permission denied")));
        c.count(&OpsEvent::HealFinding(action("journal", Class::Dangerous)));
        c.count(&OpsEvent::HealFinding(action("processes", Class::Skip)));
        let got: Vec<(&str, &str, u64)> = c
            .heals
            .iter()
            .map(|((comp, o), n)| (comp.as_str(), o.as_str(), *n))
            .collect();
        assert_eq!(
            got,
            [
                ("data_dirs", "applied", 2),
                ("data_dirs", "failed", 1),
                ("journal", "dangerous", 1),
                ("processes", "skipped", 1),
            ]
        );
    }

    #[test]
    fn past_the_bound_new_names_count_under_other() {
        let mut c = OpsCounts::default();
        for i in 0..MAX_KEYS + 10 {
            c.count(&exit(&format!("svc{i}"), false));
        }
        c.count(&exit("svc0", false));
        assert_eq!(c.unrequested_exits.len(), MAX_KEYS + 1);
        assert_eq!(c.unrequested_exits.get("other"), Some(&10));
        assert_eq!(c.unrequested_exits.get("svc0"), Some(&2));
        assert_eq!(
            c.unrequested_exits.values().sum::<u64>(),
            MAX_KEYS as u64 + 11
        );
    }
}
