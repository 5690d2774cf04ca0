//! `ballast health`'s recommendations, whatever the action: each with its id, state and
//! priority, what it does to which target, its expected result and its risks, and whether it
//! runs by itself or waits for an operator — then the command that approves it.

use super::out;
use ballast_core::health::{Recommendation, RecommendationState};

/// One recommendation: the line `health` always printed, then what it acts on and how it is
/// decided.
pub fn print(r: &Recommendation) {
    out!(
        "recommendation {} [{}] priority {}: {} (risks: {})",
        r.id,
        super::supervise::serde_name(&r.state),
        r.advice.priority,
        r.advice.expected,
        r.advice.risks
    );
    out!(
        "  {} on {}: {}",
        r.advice.action.as_str(),
        r.advice.target,
        decision(r)
    );
}

/// How it is decided, in words, with the command for an operator.
pub fn decision(r: &Recommendation) -> String {
    match r.state {
        RecommendationState::Auto => "automatic: Ballast carries it out, nothing to approve".into(),
        RecommendationState::Pending => {
            let approve = r
                .approve_with
                .clone()
                .unwrap_or_else(|| format!("ballast approve {}", r.id));
            let expires = r
                .expires
                .map(|t| format!(" before {t}"))
                .unwrap_or_default();
            format!(
                "waits for an operator: `{approve}`{expires} (or `ballast reject {}`)",
                r.id
            )
        }
        state => format!("{state}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ballast_core::Timestamp;
    use ballast_core::health::{Advice, RecoveryAction};

    /// issue 12 item 6: whatever the action, `health` says what it acts on, and how it is
    /// decided: automatic, or the command that approves it.
    #[test]
    fn every_action_is_shown_with_its_target_and_how_it_is_decided() {
        for action in RecoveryAction::ALL {
            for auto in [true, false] {
                let advice = Advice {
                    issue: "resources/disk_free".into(),
                    action: *action,
                    target: "service:bot".into(),
                    priority: 2,
                    expected: "e".into(),
                    risks: "r".into(),
                    auto,
                };
                let id = advice.id();
                let r = Recommendation {
                    id: id.clone(),
                    advice,
                    state: if auto {
                        RecommendationState::Auto
                    } else {
                        RecommendationState::Pending
                    },
                    created: Timestamp::from_unix_ms(0),
                    expires: None,
                    decided: None,
                    note: None,
                    approve_with: (!auto).then(|| format!("ballast approve {id}")),
                    lapsed: false,
                };
                let said = decision(&r);
                if auto {
                    assert!(said.starts_with("automatic"), "{said}");
                } else {
                    assert!(
                        said.contains(&format!("`ballast approve {id}`")),
                        "{action:?}: {said}"
                    );
                }
                assert!(id.contains(action.as_str()), "{id}");
            }
        }
    }
}
