//! The pure decisions of `core::systemd` (here, in the shell: a test takes its instants from
//! the clock, which the core never reads).

use std::time::{Duration, Instant};

use ballast_core::Timestamp;
use ballast_core::guard::TradingState;
use ballast_core::health::{Counts, Overall};
use ballast_core::policy::Policy;
use ballast_core::supervisor::ServiceState;
use ballast_store::files::health::{HealthFile, HealthReport, NotYet, Pending, PolicyView};
use rust_decimal::Decimal;

use crate::core::ServiceView;
use crate::core::systemd::*;

fn report(policy: Policy, trading: TradingState) -> HealthFile {
    HealthFile::Report(Box::new(HealthReport {
        version: None,
        at: Timestamp::from_unix_ms(1_000),
        overall: Overall::Healthy,
        score: 100,
        policy: PolicyView {
            policy,
            since: Timestamp::from_unix_ms(0),
            reason: "start".into(),
            trading_state: trading,
            size_multiplier: Decimal::ONE,
            floor: None,
            latches: Vec::new(),
            kill_switch: false,
            outlook: None,
        },
        trading_allowed: true,
        live_start: None,
        subsystems: Vec::new(),
        issues: Vec::new(),
        recommendations: Vec::new(),
        decided: Vec::new(),
        counts: Counts::default(),
        engine: None,
        history: Vec::new(),
        live_gate: None,
    }))
}

fn pending() -> HealthFile {
    HealthFile::Pending(Pending {
        overall: NotYet::Unknown,
        policy: Policy::AllowAll,
    })
}

fn service(name: &str, state: ServiceState) -> ServiceView {
    ServiceView {
        name: name.into(),
        state,
        held: false,
        waiting_for: Vec::new(),
        never_started: false,
        critical: true,
        depends_on: Vec::new(),
        pid: Some(42),
        restarts: 0,
        uptime: None,
        last_exit: None,
        failures_in_window: 0,
        max_restarts: 5,
        disabled: None,
        standby: false,
        covering: None,
        covered_by: None,
    }
}

#[test]
fn setup_takes_paths_and_abstract_addresses_and_halves_the_watchdog() {
    let (s, w) = setup(Some(b"/run/systemd/notify"), Some("2000000"), None, 7);
    let s = s.expect("a setup");
    assert_eq!(s.address, Address::Path("/run/systemd/notify".into()));
    assert_eq!(s.watchdog_every, Some(Duration::from_secs(1)));
    assert!(w.is_empty());
    let (s, _) = setup(Some(b"@ballast/notify"), None, None, 7);
    assert_eq!(
        s.expect("a setup").address,
        Address::Abstract(b"ballast/notify".to_vec())
    );
    assert_eq!(setup(None, Some("1000"), None, 7).0, None);
    assert_eq!(setup(Some(b""), None, None, 7).0, None);
}

#[test]
fn the_watchdog_of_another_pid_or_a_bad_value_is_not_pinged_and_said() {
    let (s, w) = setup(Some(b"/n"), Some("2000000"), Some("8"), 7);
    assert_eq!(s.expect("a setup").watchdog_every, None);
    assert!(w.is_empty());
    let (s, _) = setup(Some(b"/n"), Some("2000000"), Some("7"), 7);
    assert_eq!(
        s.expect("a setup").watchdog_every,
        Some(Duration::from_secs(1))
    );
    let (s, w) = setup(Some(b"/n"), Some("soon"), None, 7);
    assert_eq!(s.expect("a setup").watchdog_every, None);
    assert!(
        w[0].contains("\"soon\"") && w[0].contains("WatchdogSec="),
        "{w:?}"
    );
    let (s, w) = setup(Some(b"/n"), Some("2"), None, 7);
    assert_eq!(s.expect("a setup").watchdog_every, Some(WATCHDOG_EVERY_MIN));
    assert_eq!(w.len(), 1);
    let (s, _) = setup(Some(b"run/notify/x.sock"), None, None, 7);
    assert_eq!(
        s.expect("a setup").address,
        Address::Path("run/notify/x.sock".into())
    );
}

#[test]
fn ready_once_the_first_report_follows_and_no_service_is_starting() {
    let up = report(Policy::AllowAll, TradingState::Active);
    let mut n = Notifier::new(None, Instant::now());
    let engine_starting = [service("engine", ServiceState::Starting)];
    let m = n.on_report(&pending(), &engine_starting).expect("a status");
    assert!(!m.contains("READY=1"), "{m}");
    let m = n.on_report(&up, &engine_starting).expect("a status");
    assert_eq!(m, "STATUS=starting: waiting for engine (STARTING)");
    assert!(!n.ready());
    // The same line again: nothing new to tell.
    assert_eq!(n.on_report(&up, &engine_starting), None);
    let running = [service("engine", ServiceState::Running)];
    let m = n.on_report(&up, &running).expect("ready");
    assert!(
        m.starts_with("READY=1\nSTATUS=HEALTHY (score 100), policy ALLOW_ALL"),
        "{m}"
    );
    assert!(n.ready());
    // READY=1 is sent once; a changed line is told.
    let halted = report(Policy::AllowAll, TradingState::Halted);
    let m = n.on_report(&halted, &running).expect("a status");
    assert!(!m.contains("READY") && m.contains("trading HALTED"), "{m}");
}

#[test]
fn a_failed_or_held_service_does_not_hold_readiness_back() {
    let up = report(Policy::NoNewTrades, TradingState::Reducing);
    let mut failed = service("engine", ServiceState::Failed);
    failed.pid = None;
    let mut held = service("strategy", ServiceState::Starting);
    held.held = true;
    assert_eq!(waiting_for(&up, &[failed, held]), None);
    // Not started yet (the first report can precede the first spawn): still on its way up.
    let mut not_yet = service("engine", ServiceState::Stopped);
    not_yet.never_started = true;
    assert_eq!(
        waiting_for(&up, &[not_yet.clone()]).as_deref(),
        Some("engine (STOPPED)")
    );
    // Waiting for a dependency still starting: on its way; for a failed one: settled.
    let mut strategy = service("strategy", ServiceState::Stopped);
    strategy.waiting_for = vec!["engine".into()];
    strategy.never_started = true;
    assert!(waiting_for(&up, &[not_yet, strategy.clone()]).is_some());
    // A dependency just running: the dependent is about to start, not settled.
    let engine_up = service("engine", ServiceState::Running);
    assert!(waiting_for(&up, &[engine_up, strategy.clone()]).is_some());
    let given_up = service("engine", ServiceState::Failed);
    assert_eq!(waiting_for(&up, &[given_up, strategy]), None);
    let backing_off = service("engine", ServiceState::Backoff);
    assert_eq!(
        waiting_for(&up, &[backing_off]).as_deref(),
        Some("engine (BACKOFF)")
    );
}

#[test]
fn the_watchdog_pings_at_its_interval_from_the_loops_turns() {
    let t0 = Instant::now();
    let mut n = Notifier::new(Some(Duration::from_millis(500)), t0);
    assert_eq!(n.on_turn(t0), Some("WATCHDOG=1"));
    assert_eq!(n.on_turn(t0 + Duration::from_millis(499)), None);
    assert_eq!(n.next_wakeup(), Some(t0 + Duration::from_millis(500)));
    assert_eq!(
        n.on_turn(t0 + Duration::from_millis(600)),
        Some("WATCHDOG=1")
    );
    assert_eq!(n.next_wakeup(), Some(t0 + Duration::from_millis(1100)));
    let mut off = Notifier::new(None, t0);
    assert_eq!(off.on_turn(t0), None);
    assert_eq!(off.next_wakeup(), None);
}

#[test]
fn stopping_is_told_once_and_ends_the_status_updates() {
    let mut n = Notifier::new(None, Instant::now());
    let m = n.on_stop().expect("stopping");
    assert!(m.starts_with("STOPPING=1\n"), "{m}");
    assert_eq!(n.on_stop(), None);
    let up = report(Policy::AllowAll, TradingState::Active);
    assert_eq!(n.on_report(&up, &[]), None);
}

#[test]
fn the_status_is_one_bounded_line() {
    let long = format!("a\nb{}", "é".repeat(400));
    let line = one_line(&long, STATUS_MAX_BYTES);
    assert!(line.len() <= STATUS_MAX_BYTES, "{}", line.len());
    assert!(!line.contains('\n'));
    assert!(line.starts_with("a b") && line.ends_with('…'));
    assert_eq!(one_line("short", STATUS_MAX_BYTES), "short");
}
