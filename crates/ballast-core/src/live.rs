//! Principle 1's gate, one pure decision: live trading needs `mode = "live"` *and* `--live`
//! *and* a live broker with its credentials *and* a passing compatibility check *and* a clean
//! startup reconciliation *and* the account the journal belongs to *and* nothing dangerous
//! found by the self-heal *and* health neither CRITICAL nor FAILED — and the engine's own
//! missing conditions ([`VenueReport::live_missing`]). Each condition comes out with whether it
//! holds and why, in words, so every surface (`ballast check`, `ballast run --live`,
//! `/readyz?verbose`, the dashboard) names each missing one the same way.
//!
//! What cannot be known before the engine talks to the broker (the compatibility check, the
//! reconciliation, the account) is [`Met::AtStart`] until the engine's heartbeat reports it:
//! `ballast check` says "checked at start", a running gate holds until it is known.

use serde::{Deserialize, Serialize};

use crate::engine::VenueReport;
use crate::reconcile::FindingKind;

/// Where the broker's credentials were found, or what is missing (never the values).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "what")]
pub enum Credentials {
    /// Found: where (`the environment (APCA_API_KEY_ID, APCA_API_SECRET_KEY)`, a secrets file).
    Present(String),
    /// Not found: what was looked for.
    Missing(String),
}

/// What the operator asked for and what the configuration says, known before anything runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Asked {
    /// `[general] mode = "live"`.
    pub mode_live: bool,
    /// `--live` on the command line of `ballast run` (`None`: not known here — `ballast check`,
    /// which is not a start).
    pub flag: Option<bool>,
    /// The configured broker's kind (`paper`, `alpaca`).
    pub broker: String,
    pub credentials: Credentials,
}

/// What the running system says (all `None`/empty before anything runs: `ballast check`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Observed<'a> {
    /// The engine's venue report from its heartbeat (`None`: the engine has not reported).
    pub venue: Option<&'a VenueReport>,
    /// The self-heal's dangerous findings of the last sweep, in words (`None`: no sweep yet).
    pub heal_dangerous: Option<&'a [String]>,
    /// Health's overall status (`HEALTHY`, `CRITICAL`, `FAILED (…)`; `None`: no report yet).
    pub health: Option<&'a str>,
}

/// Whether a condition holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Met {
    Ok,
    Missing,
    /// Known only once the engine has talked to the broker (or, for `--live`, at `ballast run`).
    AtStart,
}

/// One condition of principle 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Condition {
    /// Stable name (`mode`, `live_flag`, `broker`, `credentials`, `compat`, `reconciliation`,
    /// `account`, `heal`, `health`, `engine`): the `/readyz?verbose` line's name.
    pub name: String,
    pub met: Met,
    /// What the condition is and, when it does not hold, why and what to do.
    pub words: String,
}

/// Every condition, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gate {
    pub conditions: Vec<Condition>,
}

impl Gate {
    /// Live trading is allowed: every condition holds.
    pub fn allowed(&self) -> bool {
        self.conditions.iter().all(|c| c.met == Met::Ok)
    }

    /// The conditions that do not hold (missing, or not known yet).
    pub fn not_met(&self) -> impl Iterator<Item = &Condition> {
        self.conditions.iter().filter(|c| c.met != Met::Ok)
    }

    /// The conditions known to be missing (not those only known at start).
    pub fn missing(&self) -> impl Iterator<Item = &Condition> {
        self.conditions.iter().filter(|c| c.met == Met::Missing)
    }
}

fn cond(name: &str, met: Met, words: String) -> Condition {
    Condition {
        name: name.to_owned(),
        met,
        words,
    }
}

fn ok_if(b: bool) -> Met {
    if b { Met::Ok } else { Met::Missing }
}

/// Principle 1's conditions for `asked`, given what the running system reports.
pub fn gate(asked: &Asked, seen: &Observed<'_>) -> Gate {
    let mut c =
        vec![
        cond(
            "mode",
            ok_if(asked.mode_live),
            if asked.mode_live {
                "[general] mode = \"live\" in the configuration".into()
            } else {
                "[general] mode = \"live\" in the configuration (it says \"paper\")".into()
            },
        ),
        match asked.flag {
            Some(true) => cond("live_flag", Met::Ok, "--live on the command line".into()),
            Some(false) => cond(
                "live_flag",
                Met::Missing,
                "--live on the command line of `ballast run` (asked twice): not given".into(),
            ),
            None => cond(
                "live_flag",
                Met::AtStart,
                "--live on the command line of `ballast run` (asked twice): give it at the start"
                    .into(),
            ),
        },
        broker(&asked.broker),
        match &asked.credentials {
            Credentials::Present(from) => {
                cond("credentials", Met::Ok, format!("broker credentials from {from}"))
            }
            Credentials::Missing(what) => cond(
                "credentials",
                Met::Missing,
                format!("broker credentials: {what}"),
            ),
        },
    ];
    c.push(compat(seen.venue));
    c.extend(reconciliation(seen.venue));
    c.push(match seen.heal_dangerous {
        None => cond(
            "heal",
            Met::AtStart,
            "nothing dangerous found by the self-heal (its first sweep is at the start)".into(),
        ),
        Some([]) => cond(
            "heal",
            Met::Ok,
            "nothing dangerous found by the self-heal".into(),
        ),
        Some(found) => cond(
            "heal",
            Met::Missing,
            format!(
                "nothing dangerous found by the self-heal: {} finding(s): {} (`ballast heal --dry-run` shows them)",
                found.len(),
                found.join("; ")
            ),
        ),
    });
    c.push(match seen.health {
        None => cond(
            "health",
            Met::AtStart,
            "health neither CRITICAL nor FAILED (measured at the start)".into(),
        ),
        Some(h) if h == "CRITICAL" || h.starts_with("FAILED") => cond(
            "health",
            Met::Missing,
            format!("health neither CRITICAL nor FAILED: it is {h} (`ballast health` says why)"),
        ),
        Some(h) => cond(
            "health",
            Met::Ok,
            format!("health neither CRITICAL nor FAILED (it is {h})"),
        ),
    });
    if let Some(v) = seen.venue {
        for m in &v.live_missing {
            c.push(cond("engine", Met::Missing, format!("the engine: {m}")));
        }
    }
    Gate { conditions: c }
}

fn broker(kind: &str) -> Condition {
    match kind {
        "alpaca" => cond(
            "broker",
            Met::Ok,
            "a live broker: [broker] kind = \"alpaca\"".into(),
        ),
        "" | "paper" => cond(
            "broker",
            Met::Missing,
            "a live broker: the configured broker is the paper simulator; set [broker] kind = \"alpaca\"".into(),
        ),
        other => cond(
            "broker",
            Met::Missing,
            format!("a live broker: [broker] kind = {other:?} is not one Ballast trades live"),
        ),
    }
}

fn compat(venue: Option<&VenueReport>) -> Condition {
    const WHAT: &str = "a passing compatibility check of the broker's API";
    match venue.and_then(|v| v.compat.as_ref()) {
        None => cond(
            "compat",
            Met::AtStart,
            format!("{WHAT} (checked at the engine's start)"),
        ),
        Some(o) if o.ok => cond("compat", Met::Ok, format!("{WHAT}: {}", o.detail)),
        Some(o) => cond(
            "compat",
            Met::Missing,
            format!(
                "{WHAT}: {} {}",
                o.class.as_deref().unwrap_or("FAILED"),
                o.detail
            ),
        ),
    }
}

/// The reconciliation and the account (a finding of its own kind) from the latest run.
fn reconciliation(venue: Option<&VenueReport>) -> [Condition; 2] {
    const WHAT: &str = "a clean startup reconciliation with the broker";
    const ACCOUNT: &str = "the broker's account is the one the journal belongs to";
    let Some(r) = venue.and_then(|v| v.reconcile.as_ref()) else {
        return [
            cond(
                "reconciliation",
                Met::AtStart,
                format!("{WHAT} (checked at the engine's start)"),
            ),
            cond(
                "account",
                Met::AtStart,
                format!("{ACCOUNT} (checked at the engine's start)"),
            ),
        ];
    };
    let (account, others): (Vec<_>, Vec<_>) = r
        .findings
        .iter()
        .partition(|f| f.kind == FindingKind::AccountMismatch);
    let rec = if !others.is_empty() {
        cond(
            "reconciliation",
            Met::Missing,
            format!(
                "{WHAT}: {} dangerous difference(s) open: {} (`ballast reconcile` shows the choices)",
                others.len(),
                others
                    .iter()
                    .map(|f| f.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    } else if !r.unanswered.is_empty() {
        cond(
            "reconciliation",
            Met::Missing,
            format!(
                "{WHAT}: the broker did not answer ({}); nothing is concluded from a failed query",
                r.unanswered.join("; ")
            ),
        )
    } else {
        cond(
            "reconciliation",
            Met::Ok,
            format!("{WHAT}: clean at {}", r.at),
        )
    };
    let acc = match account.first() {
        Some(f) => cond(
            "account",
            Met::Missing,
            format!(
                "{ACCOUNT}: Ballast has {}, the broker says {}",
                f.ours, f.theirs
            ),
        ),
        None => cond("account", Met::Ok, ACCOUNT.into()),
    };
    [rec, acc]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Timestamp;
    use crate::engine::{CompatOutcome, ReconcileSummary};
    use crate::reconcile::{Choice, Finding};

    fn asked() -> Asked {
        Asked {
            mode_live: true,
            flag: Some(true),
            broker: "alpaca".into(),
            credentials: Credentials::Present("the environment".into()),
        }
    }

    fn finding(kind: FindingKind, id: &str) -> Finding {
        Finding {
            id: id.into(),
            kind,
            symbol: None,
            ours: "a".into(),
            theirs: "b".into(),
            local_qty: None,
            venue_qty: None,
            venue_avg_price: None,
            venue_order: None,
            explaining: vec![],
            client_order_id: None,
            choices: vec![Choice::Adopt],
        }
    }

    fn venue(findings: Vec<Finding>, unanswered: Vec<String>) -> VenueReport {
        VenueReport {
            broker: "alpaca".into(),
            compat: Some(CompatOutcome {
                ok: true,
                class: None,
                detail: "account, clock and orders read".into(),
                at: Timestamp::EPOCH,
            }),
            reconcile: Some(ReconcileSummary {
                at: Timestamp::EPOCH,
                startup: true,
                findings,
                unanswered,
                flattening: Default::default(),
            }),
            last_error: None,
            live_missing: vec![],
            choice_refused: None,
            last_run_at: None,
        }
    }

    fn names(g: &Gate) -> Vec<String> {
        g.not_met().map(|c| c.name.clone()).collect()
    }

    #[test]
    fn every_condition_met_allows_live_trading() {
        let v = venue(vec![], vec![]);
        let g = gate(
            &asked(),
            &Observed {
                venue: Some(&v),
                heal_dangerous: Some(&[]),
                health: Some("HEALTHY"),
            },
        );
        assert!(g.allowed(), "{g:?}");
        assert_eq!(g.conditions.len(), 9);
    }

    #[test]
    fn each_missing_condition_is_named_with_what_to_do() {
        let a = Asked {
            mode_live: false,
            flag: Some(false),
            broker: "paper".into(),
            credentials: Credentials::Missing("APCA_API_KEY_ID is not set".into()),
        };
        let mut v = venue(
            vec![
                finding(FindingKind::QuantityMismatch, "quantity_mismatch:AAPL"),
                finding(FindingKind::AccountMismatch, "account_mismatch:acct"),
            ],
            vec![],
        );
        v.compat = Some(CompatOutcome {
            ok: false,
            class: Some("FAILED_API_SCHEMA".into()),
            detail: "GET /v2/account: field `id` missing".into(),
            at: Timestamp::EPOCH,
        });
        v.live_missing = vec!["the account is not verified".into()];
        let dangerous = ["a stale lock of pid 7".to_owned()];
        let g = gate(
            &a,
            &Observed {
                venue: Some(&v),
                heal_dangerous: Some(&dangerous),
                health: Some("CRITICAL"),
            },
        );
        assert_eq!(
            names(&g),
            [
                "mode",
                "live_flag",
                "broker",
                "credentials",
                "compat",
                "reconciliation",
                "account",
                "heal",
                "health",
                "engine"
            ]
        );
        let words: Vec<&str> = g.conditions.iter().map(|c| c.words.as_str()).collect();
        let all = words.join("\n");
        for want in [
            "it says \"paper\"",
            "not given",
            "kind = \"alpaca\"",
            "APCA_API_KEY_ID is not set",
            "FAILED_API_SCHEMA GET /v2/account: field `id` missing",
            "quantity_mismatch:AAPL",
            "`ballast reconcile`",
            "Ballast has a, the broker says b",
            "a stale lock of pid 7",
            "it is CRITICAL",
            "the engine: the account is not verified",
        ] {
            assert!(all.contains(want), "{want:?} not in {all}");
        }
    }

    #[test]
    fn before_the_engine_reports_the_broker_side_is_checked_at_start() {
        let mut a = asked();
        a.flag = None;
        let g = gate(&a, &Observed::default());
        assert!(!g.allowed());
        assert_eq!(g.missing().count(), 0, "{g:?}");
        let at_start: Vec<&str> = g
            .conditions
            .iter()
            .filter(|c| c.met == Met::AtStart)
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(
            at_start,
            [
                "live_flag",
                "compat",
                "reconciliation",
                "account",
                "heal",
                "health"
            ]
        );
    }

    #[test]
    fn an_unanswered_query_is_no_clean_reconciliation() {
        let v = venue(vec![], vec!["GET /v2/positions timed out".into()]);
        let g = gate(
            &asked(),
            &Observed {
                venue: Some(&v),
                heal_dangerous: Some(&[]),
                health: Some("DEGRADED"),
            },
        );
        assert_eq!(names(&g), ["reconciliation"]);
        assert!(g.conditions[5].words.contains("timed out"));
        let failed = gate(
            &asked(),
            &Observed {
                venue: Some(&venue(vec![], vec![])),
                heal_dangerous: Some(&[]),
                health: Some("FAILED (engine)"),
            },
        );
        assert_eq!(names(&failed), ["health"]);
    }
}
