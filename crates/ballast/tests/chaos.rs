//! `ballast chaos` over the real binary (issue 15 item 2): the default set of scenarios, each
//! against its own throw-away paper instance (the fake Alpaca and `ballast run` as real
//! processes), passes with the JSON report on stdout and in `--report FILE` and exit 0; a
//! scenario whose expectation is deliberately wrong (selectable only with
//! BALLAST_CHAOS_SELFTEST) fails the run with exit 1, the table naming it and why; a scenario
//! that does not exist, or whose in-process seam this build lacks, is refused by name.

mod common;

use common::process::text;
use serde_json::Value;

/// The default set, in its order (the in-process CHAOS_MODE ones are declared, not run).
const DEFAULT_SET: &[&str] = &[
    "broker_down",
    "invalid_creds",
    "slow_broker",
    "schema_drift",
    "rate_limited",
    "partial_fills",
    "lost_reply",
    "engine_crash",
    "supervisor_crash",
    "journal_torn_tail",
    "state_corrupt",
    "port_conflict",
];

#[test]
fn the_default_set_passes_with_a_json_report_and_exit_0() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("chaos.json");
    // The instances' directories go under a temp dir of the test's own, to see them removed.
    let instances = tmp.path().join("t");
    std::fs::create_dir(&instances).unwrap();
    let out = common::output_within(
        common::ballast()
            .args(["chaos", "--json", "--seed", "15", "--report"])
            .arg(&file)
            .env("TMPDIR", &instances)
            .env_remove(ballast_selftest()),
        900,
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["version"], 1);
    assert_eq!(report["seed"], 15);
    assert_eq!(report["passed"], true);
    let rows = report["scenarios"].as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, DEFAULT_SET);
    for r in rows {
        assert_eq!(r["verdict"], "pass", "{r:#}");
        assert!(r["response_ms"].is_u64(), "{r:#}");
        assert_eq!(r["reasons"], serde_json::json!([]));
        assert!(
            r["signals_acked"].as_u64().unwrap() > 0,
            "signal load: {r:#}"
        );
    }
    assert_eq!(
        report["declared_not_run"],
        serde_json::json!(["disk_full", "clock_skew", "stale_feed"])
    );
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(written, report, "--report FILE holds the same report");
    // Nothing left behind: each instance's directory is removed.
    let left: Vec<String> = std::fs::read_dir(&instances)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

fn ballast_selftest() -> &'static str {
    "BALLAST_CHAOS_SELFTEST"
}

#[test]
fn a_wrong_expectation_fails_the_run_with_exit_1_naming_the_scenario() {
    let out = common::output_within(
        common::ballast()
            .args([
                "chaos",
                "--scenario",
                "selftest_wrong_expectation",
                "--seed",
                "3",
            ])
            .env(ballast_selftest(), "1"),
        300,
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("scenario"), "{stdout}");
    for col in ["fault", "expected", "observed", "time", "verdict"] {
        assert!(lines[0].contains(col), "{stdout}");
    }
    assert!(
        lines[1].starts_with("selftest_wrong_expectation") && lines[1].ends_with("FAIL"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "FAILED selftest_wrong_expectation (seed 3):\n    expected halts ≤ 5 s: FAILED_CONFIG"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("0 of 1 scenario(s) passed (seed 3)"));
    assert!(
        stderr.contains("1 scenario(s) failed: selftest_wrong_expectation (seed 3;"),
        "{stderr}"
    );
    // Not a terminal: plain progress lines, no bar.
    assert!(
        stderr.contains("chaos: selftest_wrong_expectation FAIL in"),
        "{stderr}"
    );
}

#[test]
fn unknown_and_unrunnable_scenarios_are_refused_by_name() {
    let run = |args: &[&str]| {
        common::output_within(
            common::ballast().args(args).env_remove(ballast_selftest()),
            60,
        )
    };
    let out = run(&["chaos", "--scenario", "nope"]);
    assert_eq!(out.status.code(), Some(78));
    let err = text(&out.stderr);
    assert!(
        err.contains("no chaos scenario is named \"nope\"") && err.contains("broker_down"),
        "{err}"
    );
    let out = run(&["chaos", "--scenario", "disk_full"]);
    assert_eq!(out.status.code(), Some(78));
    assert!(text(&out.stderr).contains("CHAOS_MODE=disk_full"));
    let out = run(&["chaos", "--scenario", "selftest_wrong_expectation"]);
    assert_eq!(
        out.status.code(),
        Some(78),
        "the self-test is a test's tool only"
    );
    let out = run(&["chaos", "--list"]);
    assert!(out.status.success());
    let list = text(&out.stdout);
    for name in DEFAULT_SET
        .iter()
        .chain(&["disk_full", "clock_skew", "stale_feed"])
    {
        assert!(list.contains(name), "{list}");
    }
    assert!(!list.contains("selftest"), "{list}");
}
