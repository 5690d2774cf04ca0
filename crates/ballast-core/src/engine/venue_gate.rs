//! The engine's decisions about an external venue, pure (the runtime asks the venue and
//! acts): what a live engine still lacks to trade (principle 1, the engine's own
//! conditions), why nothing may be sent now, whether a reconciliation's outcome is worth a
//! `reconcile.run` record, when the next poll or reconciliation is due, and how far the
//! order-polling cursor moves.

use crate::broker::VenueOrder;
use crate::reconcile::Finding;
use crate::time::Timestamp;

/// The startup compatibility check is said to have passed, failed, or not have run yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompatState {
    NotYet,
    Passed,
    /// Its class (`FAILED_CONFIG`, `FAILED_API_SCHEMA`, or a transient failure) and detail.
    Failed {
        class: String,
        detail: String,
    },
}

/// What the engine knows of its venue now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VenueFacts {
    /// `[general] mode = "live"` (asked twice: the engine does not run live otherwise).
    pub live: bool,
    pub compat: CompatState,
    /// The latest reconciliation since the start: clean (`None`: none ran yet).
    pub reconciled_clean: Option<bool>,
    /// The venue's account is the journal's (`None`: not read yet).
    pub account_matches: Option<bool>,
    /// A venue answer broke its contract (the call, field and value): trading stops.
    pub schema_failure: Option<String>,
    /// A call was refused for the credentials or permissions (a 401 after the start):
    /// trading stops, no retry loop.
    pub config_failure: Option<String>,
}

/// A live engine's conditions still missing, each in words (empty in paper mode, or when
/// none is missing).
pub fn live_missing(f: &VenueFacts) -> Vec<String> {
    if !f.live {
        return Vec::new();
    }
    let mut missing = Vec::new();
    match &f.compat {
        CompatState::Passed => {}
        CompatState::NotYet => {
            missing.push("the broker's startup compatibility check has not run yet".into())
        }
        CompatState::Failed { class, detail } => missing.push(format!(
            "the broker's startup compatibility check passes (it failed, {class}: {detail})"
        )),
    }
    match f.reconciled_clean {
        Some(true) => {}
        Some(false) => missing.push(
            "a clean reconciliation (the latest one has open findings or unanswered queries: `ballast reconcile` shows them)"
                .into(),
        ),
        None => missing.push("a clean startup reconciliation (none has run yet)".into()),
    }
    match f.account_matches {
        Some(true) => {}
        Some(false) => missing.push("the broker's account is the journal's".into()),
        None => missing.push("the broker's account has not been read yet".into()),
    }
    if let Some(s) = &f.schema_failure {
        missing.push(format!("the broker's answers keep to its contract ({s})"));
    }
    if let Some(s) = &f.config_failure {
        missing.push(format!("the broker accepts the credentials ({s})"));
    }
    missing
}

/// Why nothing may be sent to the venue now (`None`: trading may go on): a broken contract
/// stops trading in any mode; a compatibility check that has not passed too; a live engine
/// also needs every condition of [`live_missing`].
pub fn refusal(f: &VenueFacts) -> Option<String> {
    if let Some(s) = &f.schema_failure {
        return Some(format!(
            "FAILED_API_SCHEMA: the broker's answer broke its contract ({s}); trading stopped until Ballast is restarted on a build that knows it"
        ));
    }
    if let Some(s) = &f.config_failure {
        return Some(format!(
            "FAILED_CONFIG: the broker refused the credentials ({s}); trading stopped until the keys are fixed and Ballast restarted"
        ));
    }
    if f.live {
        let missing = live_missing(f);
        return (!missing.is_empty())
            .then(|| format!("live trading is not armed: missing {}", missing.join("; ")));
    }
    match &f.compat {
        CompatState::Passed => None,
        CompatState::NotYet => Some("the broker's compatibility check has not run yet".into()),
        CompatState::Failed { class, detail } => Some(format!(
            "the broker's compatibility check failed ({class}: {detail})"
        )),
    }
}

/// Why a closing order explicitly chosen — the kill switch's flatten, the operator's
/// flatten of a reconciliation finding — may not be sent now (`None`: it goes). Such orders
/// only reduce a position and are the way out of what holds everything else: the live hold's
/// reconciliation condition (open findings, which the flatten is closing) does not hold them.
/// A broken contract, refused credentials, another account or a compatibility check that has
/// not passed still do (the venue cannot be trusted to take the order as meant).
pub fn closing_refusal(f: &VenueFacts) -> Option<String> {
    refusal(&VenueFacts {
        reconciled_clean: Some(true),
        ..f.clone()
    })
}

/// A reconciliation's outcome is journaled (`reconcile.run`) at every start, and otherwise
/// only when its findings or unanswered queries differ from the last record's (a venue that
/// keeps agreeing does not grow the journal).
pub fn worth_recording(
    last: Option<&(Vec<Finding>, Vec<String>)>,
    findings: &[Finding],
    unanswered: &[String],
    startup: bool,
) -> bool {
    startup || last.is_none_or(|(f, u)| f.as_slice() != findings || u.as_slice() != unanswered)
}

/// `every_ms` has passed since `last_ms` (never done: due).
pub fn due(now_ms: i64, last_ms: Option<i64>, every_ms: i64) -> bool {
    last_ms.is_none_or(|l| now_ms.saturating_sub(l) >= every_ms)
}

/// The polling cursor after a page of changed orders: the latest change seen, one
/// millisecond back (`after` is exclusive, and two orders may change in the same
/// millisecond: seeing one again books nothing, its fills' ids are deterministic). Never
/// moves back.
pub fn next_cursor(cursor: Option<Timestamp>, orders: &[VenueOrder]) -> Option<Timestamp> {
    let latest = orders.iter().map(|o| o.updated_at).max();
    match (cursor, latest) {
        (c, None) => c,
        (None, Some(l)) => Some(l.plus_ms(-1)),
        (Some(c), Some(l)) => Some(c.max(l.plus_ms(-1))),
    }
}

/// Where polling starts: from the oldest order Ballast still tracks (its changes since must
/// all be seen), else `lookback_ms` before `now` (nothing of Ballast's is outstanding).
pub fn first_cursor(
    oldest_tracked: Option<Timestamp>,
    now: Timestamp,
    lookback_ms: i64,
) -> Timestamp {
    match oldest_tracked {
        Some(t) => t.plus_ms(-1).min(now.plus_ms(-lookback_ms)),
        None => now.plus_ms(-lookback_ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(live: bool) -> VenueFacts {
        VenueFacts {
            live,
            compat: CompatState::Passed,
            reconciled_clean: Some(true),
            account_matches: Some(true),
            schema_failure: None,
            config_failure: None,
        }
    }

    #[test]
    fn a_chosen_closing_order_goes_under_the_live_hold_but_not_on_a_broken_contract() {
        let dirty = VenueFacts {
            reconciled_clean: Some(false),
            ..facts(true)
        };
        assert!(refusal(&dirty).is_some());
        assert_eq!(closing_refusal(&dirty), None);
        for f in [
            VenueFacts {
                schema_failure: Some("GET /v2/orders: field \"status\"".into()),
                ..dirty.clone()
            },
            VenueFacts {
                config_failure: Some("401".into()),
                ..dirty.clone()
            },
            VenueFacts {
                account_matches: Some(false),
                ..dirty.clone()
            },
            VenueFacts {
                compat: CompatState::NotYet,
                ..dirty.clone()
            },
        ] {
            assert!(closing_refusal(&f).is_some(), "{f:?}");
        }
    }

    #[test]
    fn a_live_engine_lists_each_missing_condition_and_sends_nothing_until_none_is() {
        assert_eq!(live_missing(&facts(true)), Vec::<String>::new());
        assert_eq!(refusal(&facts(true)), None);
        let f = VenueFacts {
            compat: CompatState::NotYet,
            reconciled_clean: None,
            account_matches: None,
            ..facts(true)
        };
        let missing = live_missing(&f);
        assert_eq!(missing.len(), 3, "{missing:?}");
        assert!(missing[0].contains("compatibility check has not run"));
        assert!(missing[1].contains("clean startup reconciliation"));
        assert!(missing[2].contains("account has not been read"));
        let why = refusal(&f).unwrap();
        assert!(
            why.starts_with("live trading is not armed: missing "),
            "{why}"
        );
        let dirty = VenueFacts {
            reconciled_clean: Some(false),
            ..facts(true)
        };
        assert!(refusal(&dirty).unwrap().contains("`ballast reconcile`"));
        // Paper mode: only the compatibility check and the contract matter.
        let paper = VenueFacts {
            live: false,
            ..dirty
        };
        assert_eq!(live_missing(&paper), Vec::<String>::new());
        assert_eq!(refusal(&paper), None);
    }

    #[test]
    fn a_broken_contract_stops_trading_in_any_mode_naming_what_broke() {
        for live in [false, true] {
            let f = VenueFacts {
                schema_failure: Some("GET /v2/orders: field \"status\" missing".into()),
                ..facts(live)
            };
            let why = refusal(&f).unwrap();
            assert!(why.starts_with("FAILED_API_SCHEMA") && why.contains("\"status\""));
        }
        let failed = VenueFacts {
            compat: CompatState::Failed {
                class: "FAILED_CONFIG".into(),
                detail: "GET /v2/account: 401".into(),
            },
            ..facts(false)
        };
        assert!(
            refusal(&failed)
                .unwrap()
                .contains("FAILED_CONFIG: GET /v2/account: 401")
        );
        let refused = VenueFacts {
            config_failure: Some("POST /v2/orders: answered 401".into()),
            ..facts(true)
        };
        assert!(
            refusal(&refused)
                .unwrap()
                .starts_with("FAILED_CONFIG: the broker refused")
        );
    }

    #[test]
    fn a_reconciliation_is_recorded_at_a_start_and_when_it_changes() {
        let none: (Vec<Finding>, Vec<String>) = (Vec::new(), Vec::new());
        assert!(worth_recording(None, &[], &[], false));
        assert!(worth_recording(Some(&none), &[], &[], true));
        assert!(!worth_recording(Some(&none), &[], &[], false));
        assert!(worth_recording(
            Some(&none),
            &[],
            &["positions: down".into()],
            false
        ));
    }

    #[test]
    fn polling_is_due_on_its_interval_and_its_cursor_never_moves_back() {
        assert!(due(0, None, 1000));
        assert!(!due(999, Some(0), 1000));
        assert!(due(1000, Some(0), 1000));
        let t = Timestamp::from_unix_ms(10_000);
        assert_eq!(next_cursor(Some(t), &[]), Some(t));
        assert_eq!(next_cursor(None, &[]), None);
        assert_eq!(first_cursor(None, t, 2000), Timestamp::from_unix_ms(8000));
        assert_eq!(
            first_cursor(Some(Timestamp::from_unix_ms(5000)), t, 2000),
            Timestamp::from_unix_ms(4999)
        );
    }
}
