use super::*;
use crate::limits::{DECIDED_APPROVALS_KEPT_COUNT, MAX_PENDING_APPROVALS_COUNT};

fn sub(name: &str, critical: bool, trading: bool, deps: &[&str]) -> Subsystem {
    Subsystem {
        name: name.into(),
        critical,
        impacts_trading: trading,
        depends_on: deps.iter().map(|d| d.to_string()).collect(),
        interval_ms: 5_000,
    }
}

fn health(s: Subsystem, status: Status) -> SubsystemHealth {
    SubsystemHealth::new(
        s,
        vec![CheckResult::new("main", status, "observed")],
        Timestamp::EPOCH,
    )
}

#[test]
fn thresholds() {
    assert_eq!(
        staleness(Some(299_000), 300_000, 3_600_000),
        Status::Healthy
    );
    assert_eq!(
        staleness(Some(300_000), 300_000, 3_600_000),
        Status::Degraded
    );
    assert_eq!(
        staleness(Some(3_600_000), 300_000, 3_600_000),
        Status::Critical
    );
    assert_eq!(staleness(None, 300_000, 3_600_000), Status::Critical);
    // A time in the future is no evidence of freshness (a forged or stepped-back one), within
    // the tolerance of a racing write it is.
    assert_eq!(staleness(Some(-1_000), 300_000, 3_600_000), Status::Healthy);
    assert_eq!(
        staleness(Some(-FUTURE_TOLERANCE_MS - 1), 300_000, 3_600_000),
        Status::Critical
    );
    assert_eq!(
        staleness(Some(-31_536_000_000), 300_000, 3_600_000),
        Status::Critical
    );
    assert!(age_said(-7_200_000, "old").starts_with("2 h in the future"));
    assert_eq!(age_said(-1_000, "old"), age_said(0, "old"));
    assert!(age_said(3_000, "ago").ends_with(" ago"));
    assert_eq!(error_rate(0, 0, 20, 50), Status::Healthy);
    assert_eq!(error_rate(19, 100, 20, 50), Status::Healthy);
    assert_eq!(error_rate(20, 100, 20, 50), Status::Degraded);
    assert_eq!(error_rate(5, 10, 20, 50), Status::Critical);
    assert_eq!(at_least(10, 10, 5), Status::Healthy);
    assert_eq!(at_least(7, 10, 5), Status::Degraded);
    assert_eq!(at_least(4, 10, 5), Status::Critical);
    assert_eq!(at_most(89, 90, 97), Status::Healthy);
    assert_eq!(at_most(90, 90, 97), Status::Degraded);
    assert_eq!(at_most(97, 90, 97), Status::Critical);
}

#[test]
fn a_subsystem_is_its_worst_check_and_sums_latency() {
    let mut a = CheckResult::new("a", Status::Healthy, "");
    a.latency_us = 7;
    let mut b = CheckResult::new("b", Status::Degraded, "");
    b.latency_us = 5;
    let s = SubsystemHealth::new(sub("x", true, false, &[]), vec![a, b], Timestamp::EPOCH);
    assert_eq!((s.status, s.latency_us), (Status::Degraded, 12));
    let none = SubsystemHealth::new(sub("y", true, false, &[]), vec![], Timestamp::EPOCH);
    assert_eq!(none.status, Status::Unknown);
}

#[test]
fn aggregation_follows_critical_and_supportive() {
    let engine = |st| health(sub("engine", true, true, &[]), st);
    let logs = |st| health(sub("logging", false, false, &[]), st);
    let agg = |v: Vec<SubsystemHealth>| aggregate(&v);
    assert_eq!(
        agg(vec![engine(Status::Healthy), logs(Status::Degraded)]),
        Overall::Healthy
    );
    assert_eq!(
        agg(vec![engine(Status::Healthy), logs(Status::Failed)]),
        Overall::Degraded
    );
    assert_eq!(
        agg(vec![engine(Status::Degraded), logs(Status::Healthy)]),
        Overall::Degraded
    );
    assert_eq!(agg(vec![engine(Status::Unknown)]), Overall::Degraded);
    assert_eq!(agg(vec![engine(Status::Critical)]), Overall::Critical);
    assert_eq!(
        agg(vec![engine(Status::Failed), logs(Status::Failed)]),
        Overall::Failed
    );
    // Persistent classes win over plain FAILED.
    let mut cfg = CheckResult::new("credentials", Status::Failed, "401");
    cfg.failure = Some(FailureClass::PersistentConfig);
    let broker = SubsystemHealth::new(sub("broker", true, true, &[]), vec![cfg], Timestamp::EPOCH);
    assert_eq!(
        agg(vec![engine(Status::Failed), broker.clone()]),
        Overall::FailedConfig
    );
    let mut schema = CheckResult::new("contract", Status::Critical, "unknown field");
    schema.failure = Some(FailureClass::CodeSchema);
    let api = SubsystemHealth::new(
        sub("broker", true, true, &[]),
        vec![schema],
        Timestamp::EPOCH,
    );
    assert_eq!(agg(vec![api]), Overall::FailedApiSchema);
    // A supportive subsystem's config trouble does not make the whole FAILED_CONFIG.
    let mut s = broker;
    s.subsystem.critical = false;
    assert_eq!(agg(vec![engine(Status::Healthy), s]), Overall::Degraded);
}

#[test]
fn score_weighs_critical_subsystems_double() {
    let v = vec![
        health(sub("a", true, false, &[]), Status::Degraded),
        health(sub("b", false, false, &[]), Status::Critical),
    ];
    assert_eq!(score(&v), 100 - 20 - 25);
    let all_failed: Vec<_> = (0..5)
        .map(|i| health(sub(&format!("s{i}"), true, false, &[]), Status::Failed))
        .collect();
    assert_eq!(score(&all_failed), 0);
}

#[test]
fn issues_carry_severity_dependents_and_keep_their_start() {
    let subs = vec![
        health(sub("feed", true, true, &[]), Status::Degraded),
        health(sub("engine", true, true, &["feed"]), Status::Healthy),
        health(sub("strategy", false, true, &["engine"]), Status::Healthy),
        health(sub("resources", false, false, &[]), Status::Critical),
    ];
    let t0 = Timestamp::from_unix_ms(1_000);
    let first = issues(&subs, &[], t0);
    assert_eq!(first.len(), 2);
    assert_eq!(first[0].id, "resources/main");
    assert_eq!(first[0].severity, Severity::High);
    assert_eq!(first[1].severity, Severity::Medium);
    assert_eq!(
        first[1].affects,
        vec!["engine".to_string(), "strategy".into()]
    );
    assert!(first[1].impacts_trading);
    let later = issues(&subs, &first, Timestamp::from_unix_ms(9_000));
    assert_eq!(later[1].since, t0, "an open issue keeps when it started");
}

#[test]
fn item_2_an_issues_root_cause_never_repeats_its_symptom() {
    let with = |detail: &str, cause: &str| {
        let mut c = CheckResult::new("main", Status::Critical, detail);
        c.root_cause = Some(cause.into());
        let s = SubsystemHealth::new(sub("journal", true, true, &[]), vec![c], Timestamp::EPOCH);
        issues(&[s], &[], Timestamp::EPOCH).remove(0).root_cause
    };
    // The cause already in the symptom (a service's last exit, an engine loop's error).
    assert_eq!(with("FAILED (last exit: exit code 2)", "exit code 2"), None);
    assert_eq!(with("engine FAILED: boom", "boom"), None);
    // A cause the symptom does not say is kept.
    assert_eq!(
        with(
            "1 dangerous finding(s); first: journal journal/engine",
            "seq gap"
        )
        .as_deref(),
        Some("seq gap")
    );
}

#[test]
fn recommendations_depend_on_impact_and_severity() {
    let issue = |status, trading, critical| {
        let s = sub("x", critical, trading, &[]);
        Issue {
            id: "x/main".into(),
            subsystem: "x".into(),
            check: "main".into(),
            status,
            severity: severity(status, &s).unwrap(),
            symptoms: vec![],
            root_cause: None,
            impacts_trading: trading,
            affects: vec![],
            since: Timestamp::EPOCH,
            policy: crate::policy::Policy::AllowAll,
        }
    };
    let actions = |i: &Issue, restartable| -> Vec<(RecoveryAction, bool)> {
        recommend(i, restartable)
            .iter()
            .map(|a| (a.action, a.auto))
            .collect()
    };
    assert_eq!(
        actions(&issue(Status::Critical, true, true), true),
        vec![
            (RecoveryAction::RestartSubsystem, true),
            (RecoveryAction::DefensiveExit, true),
            (RecoveryAction::CloseAllPositions, false)
        ]
    );
    // A FAILED service needs an approval to be reset and restarted.
    assert_eq!(
        actions(&issue(Status::Failed, false, true), true),
        vec![
            (RecoveryAction::RestartSubsystem, false),
            (RecoveryAction::NoNewTrades, true)
        ]
    );
    assert_eq!(
        actions(&issue(Status::Degraded, true, true), false),
        vec![
            (RecoveryAction::NoNewTrades, true),
            (RecoveryAction::PauseTrading, false)
        ]
    );
    assert_eq!(
        actions(&issue(Status::Critical, false, false), false),
        vec![(RecoveryAction::SwitchToSafeRiskProfile, true)]
    );
    assert!(recommend(&issue(Status::Degraded, false, false), false).is_empty());
}

fn advice(issue: &str, action: RecoveryAction, auto: bool) -> Advice {
    Advice {
        issue: issue.into(),
        action,
        target: "x".into(),
        priority: 1,
        expected: String::new(),
        risks: String::new(),
        auto,
    }
}

#[test]
fn approvals_wait_expire_and_are_decided_once() {
    let mut a = Approvals::default();
    let t = |s: i64| Timestamp::from_unix_ms(s * 1000);
    let given = vec![
        advice("feed/age", RecoveryAction::NoNewTrades, true),
        advice("feed/age", RecoveryAction::PauseTrading, false),
        advice("engine/loop", RecoveryAction::CloseAllPositions, false),
    ];
    let added = a.sync(&given, t(0), 60_000);
    assert_eq!(
        added,
        vec!["feed/age/pause_trading", "engine/loop/close_all_positions"]
    );
    assert_eq!(a.pending().count(), 2);
    assert!(
        a.approve("feed/age/no_new_trades", t(1))
            .unwrap_err()
            .contains("automatically")
    );
    let ok = a.approve("feed/age/pause_trading", t(2)).unwrap();
    assert_eq!(ok.state, RecommendationState::Approved);
    let again = a.approve("feed/age/pause_trading", t(3)).unwrap_err();
    assert!(again.contains("already approved"), "{again}");
    // Still advised next cycle: the decision stands, it is not asked again.
    assert!(a.sync(&given, t(4), 60_000).is_empty());
    assert!(
        a.reject("nope", t(4))
            .unwrap_err()
            .contains("engine/loop/close_all_positions")
    );
    // Time to live.
    a.sync(&given, t(61), 60_000);
    assert_eq!(a.pending().count(), 0);
    let last = a.decided.last().unwrap();
    assert_eq!(
        (last.id.as_str(), last.state),
        (
            "engine/loop/close_all_positions",
            RecommendationState::Expired
        )
    );
    // A cleared issue expires its pending recommendation.
    let mut b = Approvals::default();
    b.sync(&given, t(0), 60_000);
    b.sync(&given[..1], t(1), 60_000);
    assert_eq!(b.pending().count(), 0);
    assert!(
        b.decided
            .iter()
            .all(|r| r.note.as_deref() == Some("issue cleared"))
    );
    // Bounded.
    let many: Vec<Advice> = (0..MAX_PENDING_APPROVALS_COUNT + 10)
        .map(|i| advice(&format!("s{i}/c"), RecoveryAction::PauseTrading, false))
        .collect();
    let mut c = Approvals::default();
    c.sync(&many, t(0), 60_000);
    assert_eq!(c.pending().count(), MAX_PENDING_APPROVALS_COUNT);
}

#[test]
fn a_live_start_needs_score_and_nothing_critical() {
    let ok = Report::build(
        vec![health(sub("a", true, false, &[]), Status::Degraded)],
        &[],
        Timestamp::EPOCH,
    );
    assert!(ok.live_start_allowed().is_ok());
    let bad = Report::build(
        vec![health(sub("a", true, false, &[]), Status::Critical)],
        &[],
        Timestamp::EPOCH,
    );
    assert!(bad.live_start_allowed().unwrap_err().contains("CRITICAL"));
    let low: Vec<_> = (0..3)
        .map(|i| health(sub(&format!("s{i}"), false, false, &[]), Status::Critical))
        .collect();
    let low = Report::build(low, &[], Timestamp::EPOCH);
    assert_eq!(low.score, 25);
    assert!(
        low.live_start_allowed()
            .unwrap_err()
            .contains("score 25 < 50")
    );
}

#[test]
fn before_the_engine_runs_only_the_other_subsystems_gate_a_live_start() {
    let held = health(sub("engine", true, true, &[]), Status::Critical);
    let feed = health(sub("data_feed", true, true, &["engine"]), Status::Unknown);
    let ok = Report::build(
        vec![
            held.clone(),
            feed.clone(),
            health(sub("journal", true, false, &[]), Status::Healthy),
        ],
        &[],
        Timestamp::EPOCH,
    );
    assert!(
        ok.live_start_allowed().is_err(),
        "the whole report would refuse"
    );
    assert!(ok.live_start_allowed_before_the_engine().is_ok());
    let bad = Report::build(
        vec![
            held,
            feed,
            health(sub("database", true, false, &[]), Status::Critical),
        ],
        &[],
        Timestamp::EPOCH,
    );
    assert!(
        bad.live_start_allowed_before_the_engine()
            .unwrap_err()
            .contains("CRITICAL")
    );
}

#[test]
fn item_20_a_service_waiting_for_a_dependency_is_degraded_not_stopped() {
    use super::rules::service;
    use crate::supervisor::{ServiceState, ShownState};
    let waiting = ShownState::Waiting(vec!["my-bot".into()]);
    assert_eq!(waiting.to_string(), "WAITING (for my-bot)");
    assert_eq!(service(&waiting).0, Status::Degraded);
    assert_eq!(
        service(&ShownState::Is(ServiceState::Stopped)).0,
        Status::Critical
    );
    assert_eq!(
        service(&ShownState::Is(ServiceState::Running)).0,
        Status::Healthy
    );
}

#[test]
fn a_critical_check_not_measured_yet_holds_a_live_start_and_a_supportive_one_does_not() {
    let pending = |critical| {
        SubsystemHealth::new(
            sub("db", critical, false, &[]),
            vec![CheckResult::new(PENDING_CHECK, Status::Unknown, "not yet")],
            Timestamp::EPOCH,
        )
    };
    let journal = health(sub("journal", true, false, &[]), Status::Healthy);
    let held = Report::build(vec![journal.clone(), pending(true)], &[], Timestamp::EPOCH);
    let why = held.live_start_allowed_before_the_engine().unwrap_err();
    assert!(why.contains("db not measured yet"), "{why}");
    let fine = Report::build(vec![journal, pending(false)], &[], Timestamp::EPOCH);
    assert!(fine.live_start_allowed_before_the_engine().is_ok());
}

/// A decision stands while its issue lasts, not while the supervisor runs: once the issue
/// clears, the same advice given again is a new recommendation waiting for a new decision.
#[test]
fn a_decision_lapses_when_its_issue_clears_and_the_issue_coming_back_asks_again() {
    let t = |s: i64| Timestamp::from_unix_ms(s * 1000);
    let given = vec![advice(
        "resources/disk_free",
        RecoveryAction::PauseTrading,
        false,
    )];
    let id = "resources/disk_free/pause_trading";
    for reject in [false, true] {
        let mut a = Approvals::default();
        assert_eq!(a.sync(&given, t(0), 60_000), [id]);
        let r = if reject {
            a.reject(id, t(1))
        } else {
            a.approve(id, t(1))
        };
        assert!(r.is_ok(), "{r:?}");
        // The issue lasts: not asked again.
        assert!(a.sync(&given, t(2), 60_000).is_empty());
        // It clears, then comes back: asked again, a new approval needed.
        assert!(a.sync(&[], t(3), 60_000).is_empty());
        assert!(a.decided.iter().all(|r| r.lapsed), "{:?}", a.decided);
        assert_eq!(a.sync(&given, t(4), 60_000), [id], "reject {reject}");
        assert_eq!(a.pending().count(), 1);
        assert!(a.approve(id, t(5)).is_ok());
        // The history stays bounded through many returns.
        for i in 0..(DECIDED_APPROVALS_KEPT_COUNT as i64 + 5) {
            a.sync(&[], t(10 + 2 * i), 60_000);
            a.sync(&given, t(11 + 2 * i), 60_000);
            let _ = a.reject(id, t(11 + 2 * i));
        }
        assert!(a.decided.len() <= DECIDED_APPROVALS_KEPT_COUNT);
    }
}
