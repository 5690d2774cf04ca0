//! The files two processes share, as a real supervisor, engine and CLI write them, read back
//! through their one type each (`ballast_store::files`) without losing a member; and
//! `ballast health` reads the report through it once no supervisor answers.

mod common;

use std::time::{Duration, Instant};

use ballast_store::files::{self, health::HealthFile};
use ballast_store::{Layout, RealStorage};
use common::{FAST_HEALTH, Sup, failing_critical_service, wait_health};
use serde_json::Value;

#[test]
fn the_files_of_a_real_runtime_read_back_through_their_types() {
    let tmp = tempfile::tempdir().unwrap();
    let config = format!(
        "{FAST_HEALTH}\n[feed]\nbars_per_second = 200\n{}",
        failing_critical_service(tmp.path())
    );
    let sup = Sup::start(tmp.path(), &config);
    let layout = Layout::new(tmp.path().join("data"));
    // A report with content: the failed critical service is an issue with a recommendation,
    // and the policy escalated.
    wait_health(&sup, "issues and a policy beyond ALLOW_ALL", |h| {
        h["issues"].as_array().is_some_and(|a| !a.is_empty())
            && h["policy"]["policy"] != "ALLOW_ALL"
            && h["engine"].is_object()
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let hb = loop {
        match files::heartbeat::read(&RealStorage, &layout) {
            Ok(hb) if hb.bars > 0 => break hb,
            _ => assert!(Instant::now() < deadline, "no heartbeat with bars"),
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(hb.version, files::VERSION);
    let supervisor = files::lock::supervisor_holder(&layout).expect("the supervisor's lock");
    assert_eq!(supervisor.pid, Some(sup.child.id()));
    assert!(supervisor.started.is_some());
    let engine = files::lock::engine_holder(&layout).expect("the engine's lock");
    assert_eq!(engine.pid, Some(hb.pid));
    let policy = files::policy::read(&RealStorage, &layout).unwrap();
    assert_ne!(policy.policy, ballast_core::policy::Policy::AllowAll);
    // The kill switch as `ballast kill` writes it.
    assert!(
        sup.cli(&["kill", "--reason", "drill", "--flatten"])
            .status
            .success()
    );
    let kill = files::kill_switch::read(&RealStorage, &layout).unwrap();
    assert_eq!(
        (kill.reason.as_deref(), kill.flatten, kill.by.as_deref()),
        (Some("drill"), true, Some("ballast kill"))
    );
    let (status, _) = sup.stop();
    assert!(status.success());
    // The report: the typed reader keeps every member, and writing it again gives its bytes.
    let text = std::fs::read_to_string(layout.health_report()).unwrap();
    let report = files::health::read(&RealStorage, &layout).unwrap();
    assert!(matches!(report, HealthFile::Report(_)), "{text}");
    let value: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(report.to_value(), value);
    assert_eq!(
        serde_json::to_string_pretty(&report.to_value()).unwrap(),
        text
    );
    // No supervisor answers: `ballast health --json` prints the file as it is.
    let out = common::ballast()
        .args(["health", "--json", "--data-dir"])
        .arg(layout.root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed, value);
}

/// With no supervisor, a `state/health.json` Ballast cannot take (a newer version, another
/// shape) is refused with why, never shown as if it were a report.
#[test]
fn ballast_health_says_why_it_cannot_take_the_last_report() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = Layout::new(tmp.path().join("data"));
    std::fs::create_dir_all(layout.state()).unwrap();
    std::fs::create_dir_all(layout.engine_journal()).unwrap();
    for (text, why) in [
        (r#"{"version":2,"overall":"HEALTHY"}"#, "version 2"),
        (r#"{"overall":"x"}"#, "unknown variant `x`"),
    ] {
        std::fs::write(layout.health_report(), text).unwrap();
        let out = common::ballast()
            .args(["health", "--data-dir"])
            .arg(layout.root())
            .output()
            .unwrap();
        let err = common::process::text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{text}: {err}");
        assert!(
            err.contains("cannot be read") && err.contains(why),
            "{text}: {err}"
        );
    }
}

/// A full report with what `ballast health` prints of it: a critical service that is not
/// healthy (its log tail follows), a check with a detail, an issue with a cause and the
/// subsystems it affects, a recommendation, and a countdown.
fn full_report() -> files::health::HealthReport {
    use ballast_core::Timestamp;
    use ballast_core::health::{
        Advice, CheckResult, Counts, Issue, Overall, Recommendation, RecommendationState,
        RecoveryAction, Severity, Status, Subsystem, SubsystemHealth,
    };
    use ballast_core::policy::{Outlook, Policy};
    use files::health::{HealthReport, HistoryEntry, PolicyView};
    let at = Timestamp::from_unix_ms(1_000);
    let subsystem = |name: &str, critical| Subsystem {
        name: name.into(),
        critical,
        impacts_trading: true,
        depends_on: Vec::new(),
        interval_ms: 1_000,
    };
    let mut check = CheckResult::new("process", Status::Critical, "exited with code 3");
    check.latency_us = 42;
    HealthReport {
        version: None,
        at,
        overall: Overall::Critical,
        score: 40,
        policy: PolicyView {
            policy: Policy::NoNewTrades,
            since: at,
            reason: "service:bot is CRITICAL".into(),
            trading_state: Default::default(),
            size_multiplier: rust_decimal::Decimal::ONE,
            floor: None,
            latches: Vec::new(),
            kill_switch: false,
            outlook: Some(Outlook {
                to: Some(Policy::AllowAll),
                in_ms: Some(60_000),
                text: "steps down to ALLOW_ALL in 1 min if clear".into(),
            }),
        },
        trading_allowed: false,
        live_start: Some("health is CRITICAL".into()),
        subsystems: vec![
            SubsystemHealth::new(subsystem("service:bot", true), vec![check], at),
            SubsystemHealth::new(
                subsystem("feed", false),
                vec![CheckResult::new("age", Status::Healthy, "age 1 s < 300 s")],
                at,
            ),
        ],
        issues: vec![Issue {
            id: "service:bot/process".into(),
            subsystem: "service:bot".into(),
            check: "process".into(),
            status: Status::Critical,
            severity: Severity::Critical,
            symptoms: vec!["exited with code 3".into(), "second symptom".into()],
            root_cause: Some("bad config".into()),
            impacts_trading: true,
            affects: vec!["engine".into(), "orders".into()],
            since: at,
            policy: Policy::NoNewTrades,
        }],
        recommendations: vec![Recommendation {
            id: "service:bot/process/restart_subsystem".into(),
            advice: Advice {
                issue: "service:bot/process".into(),
                action: RecoveryAction::RestartSubsystem,
                target: "service:bot".into(),
                priority: 1,
                expected: "the service runs again".into(),
                risks: "none".into(),
                auto: false,
            },
            state: RecommendationState::Pending,
            created: at,
            expires: None,
            decided: None,
            note: None,
            approve_with: Some("ballast approve service:bot/process/restart_subsystem".into()),
            lapsed: false,
        }],
        decided: Vec::new(),
        counts: Counts::default(),
        engine: None,
        history: vec![HistoryEntry {
            at,
            overall: Overall::Critical,
            score: 40,
            policy: Policy::NoNewTrades,
            issues: 1,
        }],
        live_gate: None,
    }
}

/// `ballast health` with no supervisor, text and `--json`, byte for byte, for the report
/// before the first health cycle (its odd `? ()` and `null` kept on purpose) and a full one.
#[test]
fn ballast_health_prints_the_last_report_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = Layout::new(tmp.path().join("data"));
    std::fs::create_dir_all(layout.state()).unwrap();
    std::fs::create_dir_all(layout.engine_journal()).unwrap();
    std::fs::create_dir_all(layout.logs()).unwrap();
    std::fs::write(layout.logs().join("bot.log"), "starting\nbad config: x\n").unwrap();
    let health = |json: bool| {
        let mut c = common::ballast();
        c.arg("health");
        if json {
            c.arg("--json");
        }
        let out = c.arg("--data-dir").arg(layout.root()).output().unwrap();
        common::process::assert_ok(&out);
        common::process::text(&out.stdout)
    };
    let pending = r#"{
  "overall": "UNKNOWN",
  "policy": "NO_NEW_TRADES"
}"#;
    std::fs::write(layout.health_report(), pending).unwrap();
    assert_eq!(
        health(false),
        "no supervisor runs: the last report written (?)\n\
         health UNKNOWN (score null), safety policy ? (), trading restricted\n\
         SUBSYSTEM              STATUS      LATENCY  DETAILS\n"
    );
    assert_eq!(health(true), format!("{pending}\n"));

    let full = HealthFile::Report(Box::new(full_report()));
    files::health::write(&RealStorage, &layout, &full).unwrap();
    let written = std::fs::read_to_string(layout.health_report()).unwrap();
    assert_eq!(health(true), format!("{written}\n"));
    assert_eq!(
        health(false),
        "no supervisor runs: the last report written (1970-01-01T00:00:01.000Z)\n\
         health CRITICAL (score 40), safety policy NO_NEW_TRADES (service:bot is CRITICAL), \
         trading restricted; steps down to ALLOW_ALL in 1 min if clear\n\
         SUBSYSTEM              STATUS      LATENCY  DETAILS\n\
         service:bot *          CRITICAL       42us  process: exited with code 3\n\
         feed                   HEALTHY         0us  age: age 1 s < 300 s\n\
         bot: the last lines of its log (`ballast logs bot`):\n  starting\n  bad config: x\n\
         issue CRITICAL service:bot/process (no new trades (NO_NEW_TRADES)): exited with \
         code 3; cause: bad config; affects engine, orders\n\
         recommendation service:bot/process/restart_subsystem [PENDING] priority 1: the \
         service runs again (risks: none)\n  \
         restart_subsystem on service:bot: waits for an operator: `ballast approve \
         service:bot/process/restart_subsystem` (or `ballast reject \
         service:bot/process/restart_subsystem`)\n"
    );
}

/// A supervisor that answers `health` with a report of neither form (another Ballast version,
/// say): `ballast health` says so and fails, text and `--json`, and never shows the last
/// file as if no supervisor ran.
#[test]
fn ballast_health_refuses_a_live_answer_it_cannot_read() {
    use std::io::{BufRead, BufReader, Write};
    let tmp = tempfile::tempdir().unwrap();
    let layout = Layout::new(tmp.path().join("data"));
    std::fs::create_dir_all(layout.state()).unwrap();
    std::fs::create_dir_all(layout.run()).unwrap();
    std::fs::create_dir_all(layout.engine_journal()).unwrap();
    let last = HealthFile::Report(Box::new(full_report()));
    files::health::write(&RealStorage, &layout, &last).unwrap();
    let listener = std::os::unix::net::UnixListener::bind(layout.control_socket()).unwrap();
    let server = std::thread::spawn(move || {
        for _ in 0..2 {
            let (conn, _) = listener.accept().unwrap();
            let mut request = String::new();
            BufReader::new(&conn).read_line(&mut request).unwrap();
            assert_eq!(request, "{\"cmd\":\"health\"}\n");
            (&conn)
                .write_all(b"{\"result\":\"health\",\"report\":{\"overall\":\"HEALTHY\"}}\n")
                .unwrap();
        }
    });
    for json in [false, true] {
        let mut c = common::ballast();
        c.arg("health");
        if json {
            c.arg("--json");
        }
        let out = c.arg("--data-dir").arg(layout.root()).output().unwrap();
        let (stdout, stderr) = (
            common::process::text(&out.stdout),
            common::process::text(&out.stderr),
        );
        assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
        assert!(
            stderr.starts_with("ballast health: the supervisor on ")
                && stderr.contains("answered with a health report this Ballast cannot read")
                && stderr.contains("missing field `at`")
                && stderr.contains("help: use the same Ballast version"),
            "{stderr}"
        );
        if json {
            let v: Value = serde_json::from_str(&stdout).unwrap();
            assert!(
                v["error"].as_str().unwrap().contains("cannot read"),
                "{stdout}"
            );
        } else {
            assert_eq!(stdout, "");
        }
    }
    server.join().unwrap();
}
