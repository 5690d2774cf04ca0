//! Issue 14: a dangerous difference with the broker, as the engine's heartbeat reports it,
//! becomes the broker subsystem's CRITICAL `reconciliation` check and a CRITICAL alert that
//! names each kind and symbol — through the monitor as `ballast run` runs it, the alerts'
//! decisions and the outbox records (`alert.raised`) a start folds back into what is owed.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::sync::Arc;

use ballast_core::alerts::outbox::{self, Record};
use ballast_core::alerts::{Book, Observed, Route, Severity, Timing, conditions};
use ballast_core::domain::Symbol;
use ballast_core::engine::{EngineStatus, ReconcileSummary, VenueReport};
use ballast_core::health::Status;
use ballast_core::reconcile::{Choice, Finding, FindingKind};
use ballast_core::{Clock, Timestamp};
use ballast_store::SystemClock;
use ballast_supervisor::health::{ForeignExits, Inputs, Monitor, ServiceBrief};
use rust_decimal::Decimal;

fn finding(kind: FindingKind, sym: &str, venue_order: Option<&str>) -> Finding {
    Finding {
        id: format!(
            "{}:{sym}",
            serde_json::to_value(kind).unwrap().as_str().unwrap()
        ),
        kind,
        symbol: Symbol::new(sym).ok(),
        ours: "10".into(),
        theirs: "15".into(),
        local_qty: Some(Decimal::new(10, 0)),
        venue_qty: Some(Decimal::new(15, 0)),
        venue_avg_price: None,
        venue_order: venue_order.map(str::to_owned),
        explaining: vec![],
        client_order_id: None,
        choices: vec![Choice::Adopt, Choice::Flatten, Choice::StayHalted],
    }
}

/// A monitor over `dir` whose engine heartbeat carries `venue`.
fn monitor(dir: &std::path::Path, venue: VenueReport) -> (Monitor, Inputs) {
    for d in ["run", "logs", "state"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    let status = EngineStatus {
        venue,
        ..EngineStatus::default()
    };
    let hb = serde_json::json!({
        "pid": 1, "loops": 1, "time": SystemClock.now(), "bars": 1, "last_seq": 1,
        "status": status,
    });
    std::fs::write(dir.join("run/engine.heartbeat"), hb.to_string()).unwrap();
    let cfg = ballast_core::config::builtin().unwrap();
    assert!(cfg.engine.enabled);
    let m = Monitor::new(
        dir,
        Arc::new(cfg),
        Arc::new(SystemClock),
        Arc::new(ForeignExits::default()),
    );
    let inputs = Inputs {
        services: vec![ServiceBrief {
            name: "engine".into(),
            state: ballast_core::supervisor::ShownState::Is(
                ballast_core::supervisor::ServiceState::Running,
            ),
            critical: true,
            depends_on: vec![],
            last_exit: None,
        }],
        ..Inputs::default()
    };
    (m, inputs)
}

fn venue(findings: Vec<Finding>, unanswered: Vec<String>) -> VenueReport {
    VenueReport {
        broker: "alpaca".into(),
        compat: Some(ballast_core::engine::CompatOutcome {
            ok: true,
            class: None,
            detail: "account, clock and one page of orders read".into(),
            at: Timestamp::from_unix_ms(500),
        }),
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
fn an_open_finding_is_a_critical_alert_naming_the_symbol_through_the_outbox() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut m, inputs) = monitor(
        tmp.path(),
        venue(
            vec![
                finding(FindingKind::QuantityMismatch, "AAPL", None),
                finding(FindingKind::ForeignOrder, "MSFT", Some("61e69015-8549")),
            ],
            vec![],
        ),
    );
    let report = m.cycle(&inputs, true);
    let broker = report
        .subsystems
        .iter()
        .find(|s| s.subsystem.name == "broker")
        .unwrap();
    let check = broker
        .checks
        .iter()
        .find(|c| c.name == "reconciliation")
        .unwrap();
    assert_eq!(check.status, Status::Critical, "{check:?}");
    let issue = report
        .issues
        .iter()
        .find(|i| i.id == "broker/reconciliation")
        .unwrap_or_else(|| panic!("no issue: {:?}", report.issues));
    // The alert path as the supervisor's loop takes it: conditions, the book, the outbox.
    let alerts = conditions(&Observed {
        issues: &report.issues,
        policy: ballast_core::policy::Policy::AllowAll,
        policy_reason: "",
        kill_switch: false,
        heartbeat_age_ms: None,
        bot_silent_after_ms: 0,
    });
    let timing = Timing {
        group_wait_ms: 0,
        group_interval_ms: 0,
        repeat_interval_ms: 60_000,
        escalate_after: 0,
    };
    let routes = [Route {
        name: "pager".into(),
        min_severity: Severity::Critical,
    }];
    let sent = Book::default().step(report.at, &alerts, &timing, &routes);
    let n = sent
        .iter()
        .find(|n| n.group == "broker")
        .unwrap_or_else(|| panic!("no broker notification: {sent:?}"));
    assert_eq!(n.severity, Severity::Critical);
    let body = serde_json::to_string(n).unwrap();
    let folded = outbox::fold(Record::parse(outbox::RAISED, &body));
    let owed = &folded.owed[0];
    assert_eq!(owed.sink, "pager");
    let text = owed.notification.text();
    for want in [
        "quantity mismatch AAPL: Ballast 10, broker 15",
        "open order we do not own MSFT (venue id 61e69015-8549)",
        "ballast reconcile",
    ] {
        assert!(text.contains(want), "{want:?} not in {text}");
    }
    assert!(issue.impacts_trading);
}

#[test]
fn unanswered_queries_are_degraded_and_a_clean_run_raises_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut m, inputs) = monitor(
        tmp.path(),
        venue(
            vec![],
            vec!["GET /v2/positions: timed out after 10 s".into()],
        ),
    );
    let report = m.cycle(&inputs, true);
    let issue = report
        .issues
        .iter()
        .find(|i| i.id == "broker/reconciliation")
        .unwrap();
    assert_eq!(issue.status, Status::Degraded);
    assert!(issue.symptoms[0].contains("timed out"), "{issue:?}");
    let tmp = tempfile::tempdir().unwrap();
    let (mut m, inputs) = monitor(tmp.path(), venue(vec![], vec![]));
    let report = m.cycle(&inputs, true);
    assert!(
        !report.issues.iter().any(|i| i.subsystem == "broker"),
        "{:?}",
        report.issues
    );
}
