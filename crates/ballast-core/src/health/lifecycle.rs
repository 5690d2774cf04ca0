//! The module-lifecycle recovery actions (SPEC §5, issue 12 items 2 and 3): disable a
//! supportive service or check that keeps failing, and switch to a service's fallback. Decided
//! here from the issue and what the configuration says of the module; the supervisor carries
//! them out.

use super::{Advice, Issue, RecoveryAction, Status};

/// What the configuration allows for one subsystem besides a restart.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModuleRecovery {
    /// It may be disabled (a supportive service or check); `Some(true)`: automatically
    /// (`on_failure = "disable"`), `Some(false)`: with an operator's approval.
    pub disable: Option<bool>,
    /// Its fallback service, if it names one.
    pub fallback: Option<String>,
    /// A service (FAILED is its trouble) rather than a check (CRITICAL or FAILED is).
    pub service: bool,
}

/// The lifecycle recommendations for `issue` of a subsystem with `module`'s recovery.
pub fn recommend(issue: &Issue, module: Option<&ModuleRecovery>) -> Vec<Advice> {
    let Some(m) = module else {
        return Vec::new();
    };
    let failing = if m.service {
        issue.status == Status::Failed
    } else {
        issue.status >= Status::Critical
    };
    if !failing {
        return Vec::new();
    }
    let advice = |action, priority, expected: String, risks: &str, auto| Advice {
        issue: issue.id.clone(),
        action,
        target: issue.subsystem.clone(),
        priority,
        expected,
        risks: risks.to_owned(),
        auto,
    };
    let mut out = Vec::new();
    if let (Some(fallback), true) = (&m.fallback, m.service) {
        out.push(advice(
            RecoveryAction::SwitchToBackup,
            1,
            format!(
                "the fallback service {fallback} is started and covers while this one is down; it is stopped again once this one runs for its min uptime"
            ),
            "the fallback may serve older or coarser data than the primary; if it fails too, nothing covers",
            true,
        ));
    }
    if let Some(auto) = m.disable {
        let what = if m.service {
            "the service is stopped and kept stopped"
        } else {
            "the check is no longer run"
        };
        out.push(advice(
            RecoveryAction::DisableModule,
            4,
            format!(
                "{what}: shown DISABLED and no longer counted in the health or the score, until `ballast enable`"
            ),
            "whatever it did or watched is gone until it is enabled; a real fault there goes unseen",
            auto,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::Severity;
    use crate::time::Timestamp;

    fn issue(subsystem: &str, status: Status) -> Issue {
        Issue {
            id: format!("{subsystem}/state"),
            subsystem: subsystem.into(),
            check: "state".into(),
            status,
            severity: Severity::High,
            symptoms: Vec::new(),
            root_cause: None,
            impacts_trading: false,
            affects: Vec::new(),
            since: Timestamp::from_unix_ms(0),
            policy: crate::policy::Policy::AllowAll,
        }
    }

    #[test]
    fn a_failed_service_with_a_fallback_switches_to_it_and_may_be_disabled() {
        let m = ModuleRecovery {
            disable: Some(false),
            fallback: Some("feed-backup".into()),
            service: true,
        };
        let a = recommend(&issue("service:feed", Status::Failed), Some(&m));
        let actions: Vec<_> = a.iter().map(|a| (a.action, a.auto)).collect();
        assert_eq!(
            actions,
            [
                (RecoveryAction::SwitchToBackup, true),
                (RecoveryAction::DisableModule, false)
            ]
        );
        assert!(a[0].expected.contains("feed-backup"), "{}", a[0].expected);
        // Only FAILED is a service's trouble for these (a restart handles the rest).
        assert!(recommend(&issue("service:feed", Status::Critical), Some(&m)).is_empty());
        assert!(recommend(&issue("service:feed", Status::Failed), None).is_empty());
    }

    #[test]
    fn a_failing_check_is_disabled_automatically_only_when_configured() {
        let auto = ModuleRecovery {
            disable: Some(true),
            fallback: None,
            service: false,
        };
        let a = recommend(&issue("model", Status::Critical), Some(&auto));
        assert_eq!(a.len(), 1);
        assert_eq!(
            (a[0].action, a[0].auto),
            (RecoveryAction::DisableModule, true)
        );
        assert!(recommend(&issue("model", Status::Degraded), Some(&auto)).is_empty());
        let asked = ModuleRecovery {
            disable: Some(false),
            ..auto
        };
        assert!(!recommend(&issue("model", Status::Failed), Some(&asked))[0].auto);
    }
}
