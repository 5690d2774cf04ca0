//! The safety policy's persistence under a real supervisor and engine (issue 10 item 2, SPEC
//! principle 6: halts survive restarts). `state/policy.json` is never what re-arms trading: a
//! deleted, hand-written, forged or damaged file is rebuilt from (or overruled by) the last
//! policy the engine journaled, and EMERGENCY_SHUTDOWN is left only by `ballast resume`.
//! Only a fresh data directory starts at ALLOW_ALL.
//!
//! Every wait polls a condition with a deadline; none sleeps a fixed time hoping.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::report::{policy, status};
use common::{Sup, state, wait_health};
use serde_json::Value;

const FAST: &str = common::FAST_HEALTH;

/// The engine and a critical service that fails its budget at once, until `ok` exists in
/// `dir` (then it runs).
fn config(dir: &Path) -> String {
    format!("{FAST}{}", common::failing_critical_service(dir))
}

/// The bodies of the engine's `engine.policy` records, in order (the engine may be writing:
/// the valid prefix).
fn journaled(dir: &Path) -> Vec<Value> {
    common::journal::engine_records(&dir.join("data"))
        .into_iter()
        .filter(|(kind, _)| kind == "engine.policy")
        .map(|(_, body)| serde_json::from_str(&body).unwrap())
        .collect()
}

fn wait_journaled(dir: &Path, what: &str, cond: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    common::wait::until(
        Duration::from_secs(30),
        || {
            let j = journaled(dir);
            if cond(&j) { Ok(j) } else { Err(j) }
        },
        |j| {
            format!(
                "timed out waiting for the engine to journal {what}; engine.policy records {j:?}\n{}",
                std::fs::read_to_string(dir.join("supervisor.err")).unwrap_or_default()
            )
        },
    )
}

fn last_policy(j: &[Value]) -> &str {
    j.last().and_then(|r| r["policy"].as_str()).unwrap_or("")
}

fn policy_path(dir: &Path) -> std::path::PathBuf {
    dir.join("data/state/policy.json")
}

/// A policy file with a valid checksum, as someone who knows the format would forge it.
fn forged(policy: &str, releases: u64) -> Vec<u8> {
    let mut out = serde_json::json!({
        "policy": policy,
        "since": "2026-01-01T00:00:00.000Z",
        "reason": "forged by hand",
        "lower_since": null,
        "floor": null,
        "latches": [],
        "releases": releases,
    })
    .to_string()
    .into_bytes();
    out.pop();
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(format!(",\"crc\":\"{crc:08x}\"}}\n").as_bytes());
    out
}

/// Run until the critical service fails its budget: EMERGENCY_SHUTDOWN, journaled by the
/// engine; then stop the supervisor and let the service run from now on.
fn reach_emergency_shutdown(dir: &Path) {
    let sup = Sup::start(dir, &config(dir));
    let h = wait_health(&sup, "EMERGENCY_SHUTDOWN", |h| {
        policy(h) == "EMERGENCY_SHUTDOWN"
    });
    assert!(
        h["policy"]["reason"]
            .as_str()
            .unwrap_or("")
            .contains("risk-feed"),
        "{h:#}"
    );
    wait_journaled(dir, "EMERGENCY_SHUTDOWN", |j| {
        last_policy(j) == "EMERGENCY_SHUTDOWN"
    });
    assert!(sup.stop().0.success());
    std::fs::write(dir.join("ok"), b"").unwrap();
}

/// The supervisor after a restart: still EMERGENCY_SHUTDOWN (the file rewritten to say so),
/// through a transient crash of the engine and the hysteresis, with nothing less strict ever
/// journaled — until `ballast resume`, which releases it and the engine trades again.
fn holds_until_resume(dir: &Path, sup: &Sup) {
    let h = wait_health(sup, "a report with the engine running", |h| {
        h["subsystems"]
            .as_array()
            .is_some_and(|s| s.iter().any(|s| s["name"] == "engine"))
            && h["at"].is_string()
    });
    assert_eq!(policy(&h), "EMERGENCY_SHUTDOWN", "{h:#}");
    let file: Value = serde_json::from_slice(&std::fs::read(policy_path(dir)).unwrap()).unwrap();
    assert_eq!(
        file["policy"], "EMERGENCY_SHUTDOWN",
        "the file is written again"
    );
    let before = journaled(dir).len();
    // A transient crash of the engine: the supervisor restarts it; the policy escalates no
    // lower than it is and never steps down by itself.
    let s = sup.wait_for("the engine running", |s| {
        state(s, "engine") == "RUNNING" && state(s, "risk-feed") == "RUNNING"
    });
    let pid = Sup::service(&s, "engine")["pid"].as_i64().unwrap() as i32;
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    sup.wait_for("the engine restarted", |s| {
        state(s, "engine") == "RUNNING" && Sup::service(s, "engine")["pid"] != pid
    });
    // Well past the hysteresis with everything healthy again.
    let healthy_since = Instant::now();
    let h = wait_health(sup, "the hysteresis to pass with all clear", |h| {
        status(h, "engine") == "HEALTHY"
            && status(h, "service:risk-feed") == "HEALTHY"
            && healthy_since.elapsed() > Duration::from_secs(3)
    });
    assert_eq!(policy(&h), "EMERGENCY_SHUTDOWN", "{h:#}");
    let after = journaled(dir);
    assert!(
        after[before..]
            .iter()
            .all(|r| r["policy"] == "EMERGENCY_SHUTDOWN"),
        "the engine journaled a less strict policy without an operator: {after:?}"
    );
    assert_eq!(last_policy(&after), "EMERGENCY_SHUTDOWN");
    // The operator's release: the policy steps down and the engine follows.
    // (An order of the killed engine may still be in an unknown state for a moment: the
    // release waits for a clean reconciliation.)
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = sup.cli(&["resume"]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() {
            assert!(text.contains("EMERGENCY_SHUTDOWN -> ALLOW_ALL"), "{text}");
            break;
        }
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("reconciliation is not clean") && Instant::now() < deadline,
            "{text}{err}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    wait_journaled(dir, "ALLOW_ALL after the release", |j| {
        last_policy(j) == "ALLOW_ALL"
    });
}

#[test]
fn item_2_a_deleted_policy_file_is_rebuilt_from_the_engines_journal_and_only_resume_leaves_emergency_shutdown()
 {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    reach_emergency_shutdown(dir);
    std::fs::remove_file(policy_path(dir)).unwrap();
    let sup = Sup::start(dir, &config(dir));
    holds_until_resume(dir, &sup);
    let err = std::fs::read_to_string(dir.join("supervisor.err")).unwrap();
    assert!(
        err.contains("state/policy.json is missing: the policy is rebuilt from the engine's journal as EMERGENCY_SHUTDOWN (only `ballast resume` leaves it)"),
        "{err}"
    );
    sup.stop();
}

#[test]
fn item_2_a_hand_written_forged_or_corrupt_policy_file_never_re_arms_trading() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    reach_emergency_shutdown(dir);
    let genuine = std::fs::read(policy_path(dir)).unwrap();
    // Each of these in place of the file; each restart must come back halted.
    let mut corrupt = genuine.clone();
    let at = corrupt
        .windows(18)
        .position(|w| w == b"EMERGENCY_SHUTDOWN")
        .unwrap();
    corrupt[at..at + 9].copy_from_slice(b"ALLOW_ALL");
    corrupt.drain(at + 9..at + 18);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "hand-written",
            br#"{"policy":"ALLOW_ALL","reason":"by hand"}"#.to_vec(),
            "it has no checksum",
        ),
        (
            "forged with a valid checksum",
            forged("ALLOW_ALL", 0),
            "state/policy.json says ALLOW_ALL but the engine last journaled EMERGENCY_SHUTDOWN: the journal wins",
        ),
        ("corrupt", corrupt, "its checksum does not match"),
    ];
    for (what, bytes, says) in cases {
        std::fs::write(policy_path(dir), &bytes).unwrap();
        let before = journaled(dir).len();
        let sup = Sup::start(dir, &config(dir));
        let h = wait_health(&sup, "a report", |h| h["at"].is_string());
        assert_eq!(policy(&h), "EMERGENCY_SHUTDOWN", "{what}: {h:#}");
        let err = std::fs::read_to_string(dir.join("supervisor.err")).unwrap();
        assert!(err.contains(says), "{what}: {err}");
        sup.wait_for("the engine running", |s| state(s, "engine") == "RUNNING");
        // The engine's loop has read the file the supervisor wrote again by now.
        let file: Value =
            serde_json::from_slice(&std::fs::read(policy_path(dir)).unwrap()).unwrap();
        assert_eq!(file["policy"], "EMERGENCY_SHUTDOWN", "{what}");
        let j = journaled(dir);
        assert!(
            j[before..]
                .iter()
                .all(|r| r["policy"] == "EMERGENCY_SHUTDOWN"),
            "{what}: the engine adopted {j:?}"
        );
        assert!(sup.stop().0.success());
    }
    // The last start: through a transient crash and the hysteresis, then `ballast resume`.
    std::fs::write(policy_path(dir), forged("ALLOW_ALL", 0)).unwrap();
    let sup = Sup::start(dir, &config(dir));
    holds_until_resume(dir, &sup);
    sup.stop();
}

#[test]
fn item_2_without_an_engine_the_ops_journal_keeps_emergency_shutdown_when_the_file_is_deleted() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let config = config(dir).replace("[health]", "[engine]\nenabled = false\n[health]");
    let sup = Sup::start(dir, &config);
    wait_health(&sup, "EMERGENCY_SHUTDOWN", |h| {
        policy(h) == "EMERGENCY_SHUTDOWN"
    });
    // The ops journal has the change before the supervisor stops.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !String::from_utf8_lossy(&sup.cli(&["journal", "dump", "--ops"]).stdout)
        .contains("\"to\":\"EMERGENCY_SHUTDOWN\"")
    {
        assert!(
            Instant::now() < deadline,
            "no policy.changed in the ops journal"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(sup.stop().0.success());
    std::fs::write(dir.join("ok"), b"").unwrap();
    std::fs::remove_file(policy_path(dir)).unwrap();
    let sup = Sup::start(dir, &config);
    let h = wait_health(&sup, "a report", |h| h["at"].is_string());
    assert_eq!(policy(&h), "EMERGENCY_SHUTDOWN", "{h:#}");
    let err = std::fs::read_to_string(dir.join("supervisor.err")).unwrap();
    assert!(
        err.contains("rebuilt from the supervisor's ops journal as EMERGENCY_SHUTDOWN"),
        "{err}"
    );
    let s = sup.wait_for("risk-feed running", |s| state(s, "risk-feed") == "RUNNING");
    assert_eq!(s["services"].as_array().unwrap().len(), 1);
    let h = wait_health(&sup, "all clear for longer than the hysteresis", |h| {
        status(h, "service:risk-feed") == "HEALTHY"
    });
    let at = h["at"].clone();
    let later = wait_health(&sup, "two seconds later", |h| {
        h["at"].as_str() > at.as_str() && {
            let t = |v: &Value| {
                v.as_str()
                    .and_then(|s| ballast_core::Timestamp::parse_rfc3339(s).ok())
            };
            t(&h["at"])
                .zip(t(&at))
                .is_some_and(|(a, b)| a.ms_since(b) > 2_000)
        }
    });
    assert_eq!(policy(&later), "EMERGENCY_SHUTDOWN", "{later:#}");
    sup.stop();
}

#[test]
fn item_2_only_a_fresh_data_directory_starts_at_allow_all_and_a_damaged_file_there_stops_new_trades()
 {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("ok"), b"").unwrap();
    let sup = Sup::start(dir, &config(dir));
    let h = wait_health(&sup, "a report", |h| h["at"].is_string());
    assert_eq!(policy(&h), "ALLOW_ALL", "{h:#}");
    assert!(sup.stop().0.success());
    // Another fresh directory, with a file nobody can vouch for and no journal.
    let other = tmp.path().join("other");
    std::fs::create_dir_all(other.join("data/state")).unwrap();
    std::fs::write(policy_path(&other), b"{\"policy\":\"ALLOW_ALL\"").unwrap();
    let sup = Sup::start(
        &other,
        "[engine]\nenabled = false\n[health]\ncycle_ms = 100\n\n[[services]]\nname = \"bot\"\ncommand = \"/bin/sleep\"\nargs = [\"1000\"]\n",
    );
    let h = wait_health(&sup, "a report", |h| h["at"].is_string());
    assert_eq!(policy(&h), "NO_NEW_TRADES", "{h:#}");
    assert_eq!(h["policy"]["floor"], "NO_NEW_TRADES");
    let err = std::fs::read_to_string(other.join("supervisor.err")).unwrap();
    assert!(
        err.contains("no engine journal says what it held: starting at NO_NEW_TRADES until an operator runs `ballast resume`"),
        "{err}"
    );
    sup.stop();
}

/// Monitor-only: no engine, a declared check of `dir/needed` (supportive: a HIGH issue while
/// the file is missing), the machine's memory past a 1 % threshold (always: the window is
/// what is tested), a long hysteresis to count down.
fn busy_machine(dir: &Path, window_secs: u32) -> String {
    format!(
        "[engine]\nenabled = false\n[health]\ncycle_ms = 100\ncritical_interval_secs = 1\ninterval_secs = 1\nhysteresis_secs = 600\ncpu_degraded_pct = 100\nmemory_degraded_pct = 1\ndisk_free_min_pct = 0\nresource_window_secs = {window_secs}\n
[[checks]]
name = \"models\"
kind = \"files_present\"
paths = [\"{}\"]
",
        dir.join("needed").display()
    )
}

fn check<'a>(h: &'a Value, subsystem: &str, name: &str) -> &'a Value {
    h["subsystems"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == subsystem))
        .and_then(|s| s["checks"].as_array())
        .and_then(|c| c.iter().find(|c| c["name"] == name))
        .unwrap_or(&Value::Null)
}

fn issue<'a>(h: &'a Value, id: &str) -> Option<&'a Value> {
    h["issues"].as_array()?.iter().find(|i| i["id"] == id)
}

#[test]
fn item_21_a_busy_machine_raises_an_issue_only_after_the_window_and_says_what_the_policy_does() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("needed"), b"").unwrap();
    let sup = Sup::start(dir, &busy_machine(dir, 8));
    // Past the threshold, but not for the window yet: HEALTHY, no issue, and the detail says
    // how long it has lasted and how long it must.
    let h = wait_health(&sup, "the memory figure measured", |h| {
        check(h, "resources", "memory")["detail"].is_string()
    });
    let memory = check(&h, "resources", "memory");
    assert_eq!(memory["status"], "HEALTHY", "{h:#}");
    assert!(
        memory["detail"]
            .as_str()
            .unwrap()
            .contains("past the threshold for ")
            && memory["detail"]
                .as_str()
                .unwrap()
                .ends_with(": DEGRADED only after 8 s"),
        "{memory:#}"
    );
    assert!(issue(&h, "resources/memory").is_none(), "{h:#}");
    let first = Instant::now();
    // Sustained for the window: now it counts (a LOW issue: the policy does nothing).
    let h = wait_health(&sup, "memory DEGRADED after the window", |h| {
        check(h, "resources", "memory")["status"] == "DEGRADED"
    });
    assert!(first.elapsed() >= Duration::from_secs(3), "{h:#}");
    let i = issue(&h, "resources/memory").unwrap();
    assert_eq!(
        (&i["severity"], &i["policy"]),
        (&"LOW".into(), &"ALLOW_ALL".into())
    );
    assert_eq!(policy(&h), "ALLOW_ALL");
    let text = String::from_utf8_lossy(&sup.cli(&["health"]).stdout).into_owned();
    assert!(
        text.contains("issue LOW resources/memory (no effect on trading)"),
        "{text}"
    );
    sup.stop();
}

#[test]
fn item_21_health_and_status_say_what_an_issue_does_to_trading_and_count_the_hysteresis_down() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // A supportive check CRITICAL: HIGH → SAFE_RISK_PROFILE, and the issue says so.
    let sup = Sup::start(dir, &busy_machine(dir, 0));
    let h = wait_health(&sup, "SAFE_RISK_PROFILE", |h| {
        policy(h) == "SAFE_RISK_PROFILE"
    });
    let i = issue(&h, "models/files").or_else(|| {
        h["issues"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["subsystem"] == "models")
    });
    let i = i.unwrap_or_else(|| panic!("{h:#}"));
    assert_eq!(
        (&i["severity"], &i["policy"]),
        (&"HIGH".into(), &"SAFE_RISK_PROFILE".into())
    );
    let text = String::from_utf8_lossy(&sup.cli(&["health"]).stdout).into_owned();
    assert!(
        text.contains(&format!(
            "issue HIGH {} (order sizes halved (SAFE_RISK_PROFILE))",
            i["id"].as_str().unwrap()
        )),
        "{text}"
    );
    assert!(!text.contains("does not impact trading"), "{text}");
    let status = String::from_utf8_lossy(&sup.cli(&["status"]).stdout).into_owned();
    assert!(
        status.contains("— order sizes halved (SAFE_RISK_PROFILE)"),
        "{status}"
    );
    // Clear: the policy waits out the hysteresis, and both commands count it down.
    std::fs::write(dir.join("needed"), b"").unwrap();
    let h = wait_health(&sup, "the countdown", |h| {
        h["policy"]["outlook"]["to"] == "ALLOW_ALL"
    });
    assert_eq!(policy(&h), "SAFE_RISK_PROFILE");
    let left = h["policy"]["outlook"]["in_ms"].as_i64().unwrap();
    assert!((590_000..=600_000).contains(&left), "{h:#}");
    // `10 min` at first, then `9 min 59 s`, … — in words, never in ms.
    let counting = |t: &str| {
        t.lines().next().is_some_and(|l| {
            l.contains("; steps down to ALLOW_ALL in ")
                && l.ends_with(" if clear")
                && (l.contains(" in 10 min ") || l.contains(" in 9 min "))
        })
    };
    let text = String::from_utf8_lossy(&sup.cli(&["health"]).stdout).into_owned();
    assert!(counting(&text), "{text}");
    let status = String::from_utf8_lossy(&sup.cli(&["status"]).stdout).into_owned();
    assert!(
        status
            .lines()
            .find(|l| l.starts_with("health "))
            .is_some_and(counting),
        "{status}"
    );
    sup.stop();
}
