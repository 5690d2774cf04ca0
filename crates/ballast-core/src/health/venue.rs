//! The broker subsystem's checks on the engine's venue report (its heartbeat's
//! [`VenueReport`]), as pure verdicts: `reconciliation` (CRITICAL while a dangerous difference
//! is open, its detail naming each kind and symbol, so the CRITICAL alert names them too;
//! DEGRADED when the last run could not ask everything) and `compat` (the startup
//! compatibility check: FAILED_CONFIG / FAILED_API_SCHEMA with the call and field it names;
//! DEGRADED while the venue's calls keep failing).

use crate::engine::VenueReport;
use crate::heal::FailureClass;
use crate::reconcile::{Choice, Finding, FindingKind};

use super::{CheckResult, Status};

/// The issue of an open reconciliation finding. Its way forward is the operator's choice
/// about each finding (`ballast reconcile`), never a generic recovery: an exit or a flatten
/// would trade on books the broker contradicts, so it asks for no new trades only (the
/// engine's own latch halts or reduces per the rules) and gets no generic recommendation.
pub const RECONCILIATION_ISSUE: &str = "broker/reconciliation";

/// Findings named one by one in a check's detail; beyond, a count (`ballast reconcile` lists
/// them all).
pub const NAMED_FINDINGS: usize = 5;

fn paper(v: &VenueReport) -> bool {
    v.broker.is_empty() || v.broker == "paper"
}

fn qty(q: Option<rust_decimal::Decimal>, words: &str) -> String {
    q.map_or_else(|| words.to_owned(), |q| q.normalize().to_string())
}

/// One finding as an operator reads it in an alert: its kind, its symbol, the two sides.
pub fn finding_said(f: &Finding) -> String {
    let sym = f.symbol.as_ref().map_or("", |s| s.as_str());
    let venue_id = f
        .venue_order
        .as_deref()
        .map(|id| format!(" (venue id {id})"))
        .unwrap_or_default();
    match f.kind {
        FindingKind::QuantityMismatch => format!(
            "quantity mismatch {sym}: Ballast {}, broker {}",
            qty(f.local_qty, &f.ours),
            qty(f.venue_qty, &f.theirs)
        ),
        FindingKind::ForeignOrder => format!("open order we do not own {sym}{venue_id}"),
        FindingKind::UnknownPosition => format!(
            "position in a symbol Ballast never traded {sym}: broker {}",
            qty(f.venue_qty, &f.theirs)
        ),
        FindingKind::DuplicatePosition => {
            format!("duplicate position {sym}: broker {}", f.theirs)
        }
        FindingKind::InvalidPosition => format!("invalid position {sym}: broker {}", f.theirs),
        FindingKind::UnresolvedPartialFill => format!(
            "unresolved partial fill {sym}{venue_id}: Ballast {}, broker {}",
            f.ours, f.theirs
        ),
        FindingKind::MissingOrder => format!(
            "order the broker had accepted that it no longer finds {sym}{venue_id}: Ballast {}, broker {}",
            f.ours, f.theirs
        ),
        FindingKind::AccountMismatch => format!(
            "account mismatch: the journal belongs to {}, the broker's account is {}",
            f.ours, f.theirs
        ),
    }
}

/// The findings in words, at most [`NAMED_FINDINGS`] named.
pub fn findings_said(findings: &[Finding]) -> String {
    let mut said: Vec<String> = findings
        .iter()
        .take(NAMED_FINDINGS)
        .map(finding_said)
        .collect();
    if findings.len() > NAMED_FINDINGS {
        said.push(format!(
            "and {} more (`ballast reconcile` lists them)",
            findings.len() - NAMED_FINDINGS
        ));
    }
    said.join("; ")
}

/// The operator's choices about each open finding as recommendations waiting for approval
/// (`resolve_finding`, target `<finding id>/<choice>`, in the finding's order of choices: the
/// first is the recommended one), for the reconciliation issue only. Never automatic: nothing
/// is adopted without an operator. Approving one writes the choice as `ballast reconcile` does.
pub fn recommend_choices(issue: &super::Issue, venue: Option<&VenueReport>) -> Vec<super::Advice> {
    if issue.id != RECONCILIATION_ISSUE || issue.status < Status::Critical {
        return Vec::new();
    }
    let Some(r) = venue.and_then(|v| v.reconcile.as_ref()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for f in &r.findings {
        for (i, c) in f.choices.iter().enumerate() {
            out.push(super::Advice {
                issue: issue.id.clone(),
                action: super::RecoveryAction::ResolveFinding,
                target: format!(
                    "{}/{}/{}",
                    f.id,
                    crate::resolve::word(*c),
                    crate::reconcile::Seen::of(f).digest()
                ),
                priority: u8::try_from(i + 1).unwrap_or(u8::MAX),
                expected: format!("{}: {}", finding_said(f), crate::resolve::effect_on(f, *c)),
                risks: match c {
                    Choice::Adopt => {
                        "Ballast's books take the broker's word; check the broker's statement first"
                    }
                    Choice::Flatten => "closing at market costs spread and slippage",
                    Choice::StayHalted => "trading stays restricted while the finding is open",
                }
                .into(),
                auto: false,
            });
        }
    }
    out
}

/// The finding, the choice and the digest of what the finding showed
/// ([`crate::reconcile::Seen::digest`]) of a `resolve_finding` recommendation's target
/// (`<finding id>/<choice>/<digest>`; an older target without the digest: `None`).
pub fn choice_of_target(target: &str) -> Option<(&str, Choice, Option<&str>)> {
    let (rest, last) = target.rsplit_once('/')?;
    if let Some(c) = crate::resolve::parse(last) {
        return Some((rest, c, None));
    }
    let (finding, word) = rest.rsplit_once('/')?;
    Some((finding, crate::resolve::parse(word)?, Some(last)))
}

/// The `reconciliation` check.
pub fn reconciliation(v: &VenueReport) -> CheckResult {
    let Some(r) = &v.reconcile else {
        return if paper(v) {
            CheckResult::new(
                "reconciliation",
                Status::Healthy,
                "the paper venue is the engine's own: nothing to reconcile yet",
            )
        } else {
            CheckResult::new(
                "reconciliation",
                Status::Unknown,
                format!("{}: no reconciliation has run yet", v.broker),
            )
        };
    };
    let run = if r.startup { "startup" } else { "periodic" };
    if !r.findings.is_empty() {
        let mut c = CheckResult::new(
            "reconciliation",
            Status::Critical,
            format!(
                "{} dangerous difference(s) with the broker ({run} run at {}): {}",
                r.findings.len(),
                r.at,
                findings_said(&r.findings)
            ),
        );
        c.root_cause = Some(
            "nothing is adopted without an operator: `ballast reconcile` shows each difference and the choices (adopt, flatten, stay)".into(),
        );
        return c;
    }
    if !r.unanswered.is_empty() {
        return CheckResult::new(
            "reconciliation",
            Status::Degraded,
            format!(
                "the {run} run at {} could not ask the broker everything ({}): what those answers would show is not judged",
                r.at,
                r.unanswered.join("; ")
            ),
        );
    }
    CheckResult::new(
        "reconciliation",
        Status::Healthy,
        format!("clean: the {run} run at {} found no difference", r.at),
    )
}

/// The `compat` check: the startup compatibility check and the venue's last failure.
pub fn compat(v: &VenueReport) -> CheckResult {
    match &v.compat {
        Some(o) if !o.ok => {
            let class = o.class.as_deref().unwrap_or("FAILED");
            let mut c =
                CheckResult::new("compat", Status::Critical, format!("{class}: {}", o.detail));
            c.failure = match class {
                "FAILED_CONFIG" => Some(FailureClass::PersistentConfig),
                "FAILED_API_SCHEMA" => Some(FailureClass::CodeSchema),
                _ => None,
            };
            c
        }
        compat => match (&v.last_error, compat) {
            (Some(e), _) => CheckResult::new(
                "compat",
                Status::Degraded,
                format!("{}: the venue's calls keep failing: {e}", v.broker),
            ),
            (None, Some(o)) => CheckResult::new(
                "compat",
                Status::Healthy,
                format!("{}: {}", v.broker, o.detail),
            ),
            (None, None) if paper(v) => CheckResult::new(
                "compat",
                Status::Healthy,
                "the paper venue needs no compatibility check",
            ),
            (None, None) => CheckResult::new(
                "compat",
                Status::Unknown,
                format!(
                    "{}: the startup compatibility check has not run yet",
                    v.broker
                ),
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Timestamp;
    use crate::domain::Symbol;
    use crate::engine::{CompatOutcome, ReconcileSummary};
    use crate::reconcile::Choice;
    use rust_decimal::Decimal;

    fn finding(kind: FindingKind, sym: &str) -> Finding {
        Finding {
            id: format!("{kind:?}:{sym}"),
            kind,
            symbol: Symbol::new(sym).ok(),
            ours: "10 shares".into(),
            theirs: "15 shares".into(),
            local_qty: Some(Decimal::new(10, 0)),
            venue_qty: Some(Decimal::new(15, 0)),
            venue_avg_price: None,
            venue_order: (kind == FindingKind::ForeignOrder).then(|| "61e69015".to_owned()),
            explaining: vec![],
            client_order_id: None,
            choices: vec![Choice::Adopt, Choice::Flatten, Choice::StayHalted],
        }
    }

    fn alpaca(findings: Vec<Finding>, unanswered: Vec<String>) -> VenueReport {
        VenueReport {
            broker: "alpaca".into(),
            compat: None,
            reconcile: Some(ReconcileSummary {
                at: Timestamp::from_unix_ms(1_000),
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

    #[test]
    fn open_findings_are_critical_and_name_each_kind_and_symbol() {
        let v = alpaca(
            vec![
                finding(FindingKind::QuantityMismatch, "AAPL"),
                finding(FindingKind::ForeignOrder, "MSFT"),
            ],
            vec![],
        );
        let c = reconciliation(&v);
        assert_eq!(c.status, Status::Critical);
        assert!(
            c.detail.contains(
                "quantity mismatch AAPL: Ballast 10, broker 15; open order we do not own MSFT (venue id 61e69015)"
            ),
            "{}",
            c.detail
        );
        assert!(c.root_cause.unwrap().contains("ballast reconcile"));
    }

    /// A finding asks for no new trades, never an exit or a flatten on books the broker
    /// contradicts, and gets no generic recommendation (its choices are the way forward).
    #[test]
    fn an_open_finding_asks_no_new_trades_and_no_generic_recovery() {
        let v = alpaca(vec![finding(FindingKind::QuantityMismatch, "AAPL")], vec![]);
        let sub = crate::health::SubsystemHealth::new(
            crate::health::Subsystem {
                name: "broker".into(),
                critical: true,
                impacts_trading: true,
                depends_on: vec![],
                interval_ms: 1000,
            },
            vec![reconciliation(&v)],
            Timestamp::EPOCH,
        );
        let issues = crate::health::issues(&[sub], &[], Timestamp::EPOCH);
        assert_eq!(issues[0].id, RECONCILIATION_ISSUE);
        assert_eq!(issues[0].policy, crate::policy::Policy::NoNewTrades);
        assert!(crate::health::recommend(&issues[0], true).is_empty());
        // Its way forward: each choice of each finding, waiting for an operator.
        let advice = recommend_choices(&issues[0], Some(&v));
        let ids: Vec<String> = advice.iter().map(crate::health::Advice::id).collect();
        let digest =
            crate::reconcile::Seen::of(&v.reconcile.as_ref().unwrap().findings[0]).digest();
        assert_eq!(
            ids,
            [
                format!(
                    "broker/reconciliation/resolve_finding/QuantityMismatch:AAPL/adopt/{digest}"
                ),
                format!(
                    "broker/reconciliation/resolve_finding/QuantityMismatch:AAPL/flatten/{digest}"
                ),
                format!(
                    "broker/reconciliation/resolve_finding/QuantityMismatch:AAPL/stay/{digest}"
                )
            ]
        );
        assert!(advice.iter().all(|a| !a.auto));
        assert!(
            advice[0].expected.contains("quantity mismatch AAPL"),
            "{advice:?}"
        );
        assert_eq!(
            choice_of_target(&advice[2].target),
            Some((
                "QuantityMismatch:AAPL",
                Choice::StayHalted,
                Some(digest.as_str())
            ))
        );
        assert_eq!(
            choice_of_target("QuantityMismatch:AAPL/adopt"),
            Some(("QuantityMismatch:AAPL", Choice::Adopt, None))
        );
        // When the broker's quantity moves, the recommendation is another one.
        let mut moved = v.reconcile.as_ref().unwrap().findings[0].clone();
        moved.venue_qty = Some(moved.venue_qty.unwrap_or_default() + rust_decimal::Decimal::ONE);
        assert_ne!(crate::reconcile::Seen::of(&moved).digest(), digest);
        assert!(recommend_choices(&issues[0], None).is_empty());
    }

    #[test]
    fn many_findings_are_counted_beyond_the_named_ones() {
        let f: Vec<Finding> = (0..8)
            .map(|i| finding(FindingKind::UnknownPosition, &format!("S{i}")))
            .collect();
        let c = reconciliation(&alpaca(f, vec![]));
        assert!(
            c.detail.contains("S4") && !c.detail.contains("S5"),
            "{}",
            c.detail
        );
        assert!(c.detail.contains("and 3 more"), "{}", c.detail);
    }

    #[test]
    fn an_unanswered_query_is_degraded_and_a_clean_run_healthy() {
        let c = reconciliation(&alpaca(vec![], vec!["GET /v2/positions: timed out".into()]));
        assert_eq!(c.status, Status::Degraded);
        assert!(c.detail.contains("timed out"), "{}", c.detail);
        assert_eq!(
            reconciliation(&alpaca(vec![], vec![])).status,
            Status::Healthy
        );
        let mut none = alpaca(vec![], vec![]);
        none.reconcile = None;
        assert_eq!(reconciliation(&none).status, Status::Unknown);
        assert_eq!(
            reconciliation(&VenueReport::default()).status,
            Status::Healthy
        );
    }

    #[test]
    fn a_failed_compatibility_check_is_critical_with_its_class_and_field() {
        let mut v = alpaca(vec![], vec![]);
        v.compat = Some(CompatOutcome {
            ok: false,
            class: Some("FAILED_API_SCHEMA".into()),
            detail: "GET /v2/account: required field `account_number` missing".into(),
            at: Timestamp::EPOCH,
        });
        let c = compat(&v);
        assert_eq!(c.status, Status::Critical);
        assert_eq!(c.failure, Some(FailureClass::CodeSchema));
        assert!(
            c.detail
                .starts_with("FAILED_API_SCHEMA: GET /v2/account: required field `account_number`"),
            "{}",
            c.detail
        );
        v.compat.as_mut().unwrap().class = Some("FAILED_CONFIG".into());
        assert_eq!(compat(&v).failure, Some(FailureClass::PersistentConfig));
        v.compat = Some(CompatOutcome {
            ok: true,
            class: None,
            detail: "account, clock and orders read".into(),
            at: Timestamp::EPOCH,
        });
        assert_eq!(compat(&v).status, Status::Healthy);
        v.last_error = Some("TRANSIENT: GET /v2/orders: 503".into());
        let c = compat(&v);
        assert_eq!(c.status, Status::Degraded);
        assert!(c.detail.contains("503"), "{}", c.detail);
    }
}
