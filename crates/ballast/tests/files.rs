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
