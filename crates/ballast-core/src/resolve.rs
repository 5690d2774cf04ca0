//! The operator's way forward from a dangerous reconciliation finding (issue 14 item 4), as
//! pure decisions every surface shares (`ballast reconcile`, the control socket, the HTTP API,
//! the dashboard): which finding a request names (its id, or a symbol with one finding), whether
//! the choice is one the finding offers, the operator's words, and the exact command of each
//! choice. Nothing here adopts anything: the choice goes to the engine in
//! `state/reconcile-choice.json` and the engine journals `reconcile.resolve`.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::engine::VenueReport;
use crate::reconcile::{Choice, Finding};

/// The operator's words (`--reason`, the API body's `reason`): at most this many characters.
pub const MAX_REASON_CHARS: usize = crate::engine::kill_switch::MAX_REASON_CHARS;

/// A choice's word on the command line and in the API's path: `adopt`, `flatten`, `stay`.
pub fn word(c: Choice) -> &'static str {
    match c {
        Choice::Adopt => "adopt",
        Choice::Flatten => "flatten",
        Choice::StayHalted => "stay",
    }
}

/// A choice from its word (`stay_halted` and `stay-halted`, [`Choice::parse`]'s, too).
pub fn parse(word: &str) -> Option<Choice> {
    match word.trim() {
        "stay" => Some(Choice::StayHalted),
        other => Choice::parse(other),
    }
}

/// What a choice does, in words.
pub fn effect(c: Choice) -> &'static str {
    match c {
        Choice::Adopt => {
            "adopt the broker's view: Ballast's books take the broker's quantity (journaled with the before and after)"
        }
        Choice::Flatten => "flatten the symbol: close the broker's position at market",
        Choice::StayHalted => "stay halted: change nothing; trading stays stopped for it",
    }
}

/// What `choice` does about `f`, in words (adopt depends on what the finding is about).
pub fn effect_on(f: &Finding, choice: Choice) -> &'static str {
    use crate::reconcile::FindingKind as K;
    match (choice, f.kind) {
        (Choice::Adopt, K::ForeignOrder) => {
            "acknowledge the broker's order: Ballast does not manage it and stops flagging it"
        }
        (Choice::Adopt, K::UnresolvedPartialFill) => {
            "adopt the broker's filled quantity for the order (at its average price)"
        }
        (Choice::Adopt, K::MissingOrder) => {
            "take the broker's word: the order is forgotten and its signal cancelled"
        }
        _ => effect(choice),
    }
}

/// The command that makes `choice` about `f`.
pub fn command(f: &Finding, choice: Choice) -> String {
    format!("ballast reconcile {} {} --reason \"…\"", word(choice), f.id)
}

/// One finding as the surfaces show it: the finding, its words, the command of each choice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FindingView<'a> {
    #[serde(flatten)]
    pub finding: &'a Finding,
    /// In one line, as the alert says it (`quantity mismatch AAPL: Ballast 10, broker 15`).
    pub said: String,
    /// Each choice's word and the command that makes it.
    pub commands: BTreeMap<&'static str, String>,
    /// Each choice's word and what it does.
    pub effects: BTreeMap<&'static str, &'static str>,
    /// What a choice is made on (sent back with it: refused when the finding changed since).
    pub seen: crate::reconcile::Seen,
}

/// The latest reconciliation as `ballast reconcile --json` and `GET /v1/reconciliation` show
/// it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct View<'a> {
    /// `paper` or `alpaca`.
    pub broker: &'a str,
    /// The latest run (none yet: `null`).
    pub at: Option<crate::Timestamp>,
    pub startup: Option<bool>,
    pub findings: Vec<FindingView<'a>>,
    /// The queries that failed in that run, in words.
    pub unanswered: &'a [String],
    /// The operator's last choice the engine refused, and why.
    pub choice_refused: Option<&'a str>,
}

/// The view of the engine's venue report `v`.
pub fn view(v: &VenueReport) -> View<'_> {
    let r = v.reconcile.as_ref();
    View {
        broker: if v.broker.is_empty() {
            "paper"
        } else {
            &v.broker
        },
        at: r.map(|r| r.at),
        startup: r.map(|r| r.startup),
        findings: r
            .map_or(&[][..], |r| r.findings.as_slice())
            .iter()
            .map(|f| FindingView {
                finding: f,
                said: crate::health::venue::finding_said(f),
                commands: f
                    .choices
                    .iter()
                    .map(|c| (word(*c), command(f, *c)))
                    .collect(),
                effects: f
                    .choices
                    .iter()
                    .map(|c| (word(*c), effect_on(f, *c)))
                    .collect(),
                seen: crate::reconcile::Seen::of(f),
            })
            .collect(),
        unanswered: r.map_or(&[][..], |r| r.unanswered.as_slice()),
        choice_refused: v.choice_refused.as_deref(),
    }
}

/// Why a choice is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No open finding is named so (404).
    NotFound(String),
    /// The finding does not offer the choice (422), or a symbol names several findings.
    NotOffered(String),
    /// The operator's words are missing or unusable (422, the field `reason`).
    Reason(String),
}

impl Refusal {
    pub fn message(&self) -> &str {
        match self {
            Refusal::NotFound(m) | Refusal::NotOffered(m) | Refusal::Reason(m) => m,
        }
    }
}

fn ids(findings: &[Finding]) -> String {
    if findings.is_empty() {
        return "none is open".into();
    }
    let list: Vec<&str> = findings.iter().take(10).map(|f| f.id.as_str()).collect();
    format!("the open ones: {}", list.join(", "))
}

/// The open finding `target` names — its id, or a symbol (any case) that exactly one open
/// finding is about — and `choice` checked against the choices it offers.
pub fn pick<'a>(
    findings: &'a [Finding],
    target: &str,
    choice: Choice,
) -> Result<&'a Finding, Refusal> {
    let target = target.trim();
    let f = match findings.iter().find(|f| f.id == target) {
        Some(f) => f,
        None => {
            let by_symbol: Vec<&Finding> = findings
                .iter()
                .filter(|f| {
                    f.symbol
                        .as_ref()
                        .is_some_and(|s| s.as_str().eq_ignore_ascii_case(target))
                })
                .collect();
            match by_symbol.as_slice() {
                [one] => *one,
                [] => {
                    return Err(Refusal::NotFound(format!(
                        "no open reconciliation finding is named {target:?} ({}); `ballast reconcile` lists them",
                        ids(findings)
                    )));
                }
                many => {
                    return Err(Refusal::NotOffered(format!(
                        "{target} has {} open findings ({}): name one by its id",
                        many.len(),
                        many.iter()
                            .map(|f| f.id.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
            }
        }
    };
    if !f.choices.contains(&choice) {
        return Err(Refusal::NotOffered(format!(
            "finding {} does not offer {:?}: its choices are {}",
            f.id,
            word(choice),
            f.choices
                .iter()
                .map(|c| word(*c))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(f)
}

/// The operator's words, trimmed, or why they are refused (empty, too long, a control
/// character: they are journaled and written into log lines, one event one line).
pub fn check_reason(reason: &str) -> Result<String, Refusal> {
    crate::engine::kill_switch::check_reason(reason).map_err(|why| {
        Refusal::Reason(why.replace(
            "say why the kill switch is engaged",
            "say why this choice is made",
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Symbol;
    use crate::reconcile::FindingKind;

    fn f(id: &str, sym: &str, choices: Vec<Choice>) -> Finding {
        Finding {
            id: id.into(),
            kind: FindingKind::QuantityMismatch,
            symbol: Symbol::new(sym).ok(),
            ours: "10".into(),
            theirs: "15".into(),
            local_qty: None,
            venue_qty: None,
            venue_avg_price: None,
            venue_order: None,
            explaining: vec![],
            client_order_id: None,
            choices,
        }
    }

    #[test]
    fn a_finding_is_named_by_its_id_or_its_only_symbol() {
        let all = vec![Choice::Adopt, Choice::Flatten, Choice::StayHalted];
        let fs = vec![
            f("quantity_mismatch:AAPL", "AAPL", all.clone()),
            f("foreign_order:o-1", "MSFT", vec![Choice::StayHalted]),
            f("foreign_order:o-2", "MSFT", vec![Choice::StayHalted]),
        ];
        assert_eq!(
            pick(&fs, "quantity_mismatch:AAPL", Choice::Adopt)
                .unwrap()
                .id,
            "quantity_mismatch:AAPL"
        );
        assert_eq!(
            pick(&fs, "aapl", Choice::Flatten).unwrap().id,
            "quantity_mismatch:AAPL"
        );
        let e = pick(&fs, "MSFT", Choice::StayHalted).unwrap_err();
        assert!(
            matches!(&e, Refusal::NotOffered(m) if m.contains("foreign_order:o-1, foreign_order:o-2")),
            "{e:?}"
        );
        let e = pick(&fs, "TSLA", Choice::Adopt).unwrap_err();
        assert!(
            matches!(&e, Refusal::NotFound(m) if m.contains("quantity_mismatch:AAPL")),
            "{e:?}"
        );
        let e = pick(&fs, "foreign_order:o-1", Choice::Adopt).unwrap_err();
        assert!(
            matches!(&e, Refusal::NotOffered(m) if m.contains("its choices are stay")),
            "{e:?}"
        );
        assert!(matches!(
            pick(&[], "x", Choice::Adopt),
            Err(Refusal::NotFound(m)) if m.contains("none is open")
        ));
    }

    #[test]
    fn words_commands_and_reasons() {
        for c in [Choice::Adopt, Choice::Flatten, Choice::StayHalted] {
            assert_eq!(parse(word(c)), Some(c));
        }
        assert_eq!(parse("stay_halted"), Some(Choice::StayHalted));
        assert_eq!(parse("guess"), None);
        let x = f("quantity_mismatch:AAPL", "AAPL", vec![]);
        assert_eq!(
            command(&x, Choice::Adopt),
            "ballast reconcile adopt quantity_mismatch:AAPL --reason \"…\""
        );
        assert_eq!(
            check_reason("  checked the broker  ").unwrap(),
            "checked the broker"
        );
        let e = check_reason(" ").unwrap_err();
        assert!(e.message().contains("say why this choice is made"), "{e:?}");
        assert!(check_reason("a\nb").is_err());
    }
}
