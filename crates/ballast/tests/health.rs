//! The health monitor and the safety policy under a real supervisor (SPEC §5): a stale feed
//! moves the policy to NO_NEW_TRADES and back after the hysteresis; the kill switch is
//! EMERGENCY_SHUTDOWN, kept across a restart and left only by `ballast resume`;
//! recommendations wait for `ballast approve` / `reject` and are carried out; every kind of
//! declared check against real files, sockets, processes and commands; `state/health.json`'s
//! structure and its bounded history; a live engine held while health is CRITICAL.
//!
//! Every wait polls a condition with a deadline; none sleeps a fixed time hoping.

mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::report::policy;
use common::{Sup, state, wait_health};
use serde_json::Value;

/// Fast cycles; the machine's own CPU, memory and disk only reported (a busy test machine must
/// not move the policy these tests watch).
const FAST: &str = "[health]\ncycle_ms = 100\ncritical_interval_secs = 1\ninterval_secs = 1\ncpu_degraded_pct = 100\nmemory_degraded_pct = 100\ndisk_free_min_pct = 0\n";

/// No engine, only the monitor (a check of the config file keeps `ballast run` busy).
fn monitor_only(dir: &Path, extra: &str) -> String {
    format!(
        "[engine]\nenabled = false\n{FAST}{extra}\n[[checks]]\nname = \"config\"\nkind = \"files_present\"\npaths = [\"{}\"]\n",
        dir.join("ballast.toml").display()
    )
}

/// Kills a helper process when the test ends, however it ends.
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn subsystem<'a>(h: &'a Value, name: &str) -> &'a Value {
    h["subsystems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no subsystem {name}: {h:#}"))
}

fn status<'a>(h: &'a Value, name: &str) -> &'a str {
    subsystem(h, name)["status"].as_str().unwrap_or("")
}

fn ops(sup: &Sup) -> String {
    let out = sup.cli(&["journal", "dump", "--ops"]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn policy_file(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("data/state/policy.json")).unwrap())
        .unwrap()
}

#[test]
fn a_stale_feed_stops_new_trades_and_the_policy_steps_down_only_after_the_hysteresis() {
    let tmp = tempfile::tempdir().unwrap();
    let sup = Sup::start(
        tmp.path(),
        &format!("{FAST}hysteresis_secs = 1\nfeed_degraded_secs = 1\n"),
    );
    let h = wait_health(&sup, "the engine trading", |h| {
        status(h, "data_feed") == "HEALTHY" && policy(h) == "ALLOW_ALL"
    });
    assert_eq!(h["trading_allowed"], true);
    let s = sup.wait_for("engine pid", |s| Sup::service(s, "engine")["pid"].is_i64());
    let pid = Sup::service(&s, "engine")["pid"].as_i64().unwrap() as i32;
    let p = rustix::process::Pid::from_raw(pid).unwrap();
    // The feed stops (the engine is frozen): no bar for a second → NO_NEW_TRADES at once.
    rustix::process::kill_process(p, rustix::process::Signal::STOP).unwrap();
    let h = wait_health(&sup, "no new trades", |h| policy(h) == "NO_NEW_TRADES");
    assert_eq!(status(&h, "data_feed"), "DEGRADED");
    assert_eq!(h["policy"]["trading_state"], "REDUCING");
    assert_eq!(h["trading_allowed"], false);
    let issue = h["issues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == "data_feed/bar_age")
        .unwrap();
    assert_eq!(issue["severity"], "MEDIUM");
    assert_eq!(issue["impacts_trading"], true);
    assert_eq!(issue["affects"], serde_json::json!(["universe"]));
    // Persisted for the engine and for a restart.
    assert_eq!(policy_file(tmp.path())["policy"], "NO_NEW_TRADES");
    // The feed comes back: the policy waits for the hysteresis, then steps down.
    rustix::process::kill_process(p, rustix::process::Signal::CONT).unwrap();
    let h = wait_health(&sup, "allow all again", |h| policy(h) == "ALLOW_ALL");
    assert!(
        h["policy"]["reason"]
            .as_str()
            .unwrap()
            .contains("clear for 1 s"),
        "{h:#}"
    );
    // The ops journal is written by its own thread, in bursts: wait for the step down there.
    let both = |journal: &str| {
        let changes: Vec<&str> = journal
            .lines()
            .filter(|l| l.contains("policy.changed"))
            .collect();
        changes
            .iter()
            .any(|l| l.contains("\"to\":\"NO_NEW_TRADES\""))
            && changes.iter().any(|l| l.contains("\"to\":\"ALLOW_ALL\""))
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut journal = ops(&sup);
    while !both(&journal) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        journal = ops(&sup);
    }
    assert!(both(&journal), "{journal}");
    sup.stop();
}

#[test]
fn the_kill_switch_is_emergency_shutdown_survives_a_restart_and_only_resume_leaves_it() {
    let tmp = tempfile::tempdir().unwrap();
    let config = monitor_only(tmp.path(), "hysteresis_secs = 0\n");
    let sup = Sup::start(tmp.path(), &config);
    wait_health(&sup, "a report", |h| policy(h) == "ALLOW_ALL");
    assert!(sup.cli(&["kill", "--reason", "drill"]).status.success());
    let h = wait_health(&sup, "emergency", |h| policy(h) == "EMERGENCY_SHUTDOWN");
    assert_eq!(h["policy"]["trading_state"], "HALTED");
    assert_eq!(h["policy"]["kill_switch"], true);
    drop(sup);
    // Restart with the switch still engaged: halted from the first report on.
    let sup = Sup::start(tmp.path(), &config);
    let h = wait_health(&sup, "a report", |h| h["at"].is_string());
    assert_eq!(policy(&h), "EMERGENCY_SHUTDOWN");
    // Even with the file gone, the policy does not step down by itself.
    std::fs::remove_file(tmp.path().join("data/KILL_SWITCH")).unwrap();
    let seen = wait_health(&sup, "a later cycle", |x| x["at"] != h["at"]);
    assert_eq!(policy(&seen), "EMERGENCY_SHUTDOWN");
    // `ballast resume` is the operator's release (reconciliation is clean here).
    let out = sup.cli(&["resume"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("EMERGENCY_SHUTDOWN -> ALLOW_ALL"), "{text}");
    assert_eq!(policy_file(tmp.path())["policy"], "ALLOW_ALL");
    sup.stop();
}

#[test]
fn recommendations_wait_for_an_operator_and_are_carried_out_when_approved() {
    let tmp = tempfile::tempdir().unwrap();
    let models = tmp.path().join("models");
    std::fs::create_dir_all(&models).unwrap();
    std::fs::write(models.join("a.bin"), b"a").unwrap();
    let starts = tmp.path().join("starts");
    let sup = Sup::start(
        tmp.path(),
        &format!(
            "[engine]\nenabled = false\n{FAST}hysteresis_secs = 0\n
[[services]]
name = \"flaky\"
command = \"/bin/sh\"
args = [\"-c\", \"echo start >> {starts}; exit 3\"]
max_restarts = 0
restart_delay_ms = 0

[[checks]]
name = \"models\"
kind = \"files_present\"
paths = [\"{a}\", \"{b}\"]
degraded_min = 1
impacts_trading = true
",
            starts = starts.display(),
            a = models.join("a.bin").display(),
            b = models.join("b.bin").display()
        ),
    );
    sup.wait_for("flaky failed", |s| state(s, "flaky") == "FAILED");
    let h = wait_health(&sup, "both issues", |h| {
        status(h, "models") == "DEGRADED" && status(h, "service:flaky") == "FAILED"
    });
    assert_eq!(policy(&h), "NO_NEW_TRADES", "{h:#}");
    let recs = h["recommendations"].as_array().unwrap();
    let rec = |id: &str| recs.iter().find(|r| r["id"] == id).cloned();
    let pause = rec("models/files_present/pause_trading").expect("pause trading advised");
    assert_eq!(
        (pause["state"].as_str(), pause["auto"].as_bool()),
        (Some("PENDING"), Some(false))
    );
    assert!(pause["expires"].is_string() && pause["risks"].is_string() && pause["priority"] == 3);
    assert_eq!(
        rec("models/files_present/no_new_trades").unwrap()["state"],
        "AUTO"
    );
    assert_eq!(
        rec("service:flaky/state/restart_subsystem").unwrap()["state"],
        "PENDING"
    );
    // Status lists what waits.
    let out = sup.cli(&["status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("waiting for approval: models/files_present/pause_trading"),
        "{text}"
    );

    // Reject one; an unknown id is refused with what does wait.
    let out = sup.cli(&["reject", "nope"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("service:flaky/state/restart_subsystem"));
    // Approve the restart: the FAILED service is reset and started again.
    let out = sup.cli(&["approve", "service:flaky/state/restart_subsystem"]);
    common::process::assert_ok(&out);
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::read_to_string(&starts)
        .unwrap_or_default()
        .lines()
        .count()
        < 2
    {
        assert!(Instant::now() < deadline, "not restarted");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Approve pausing: the policy stays at NO_NEW_TRADES even when the models are back.
    let out = sup.cli(&["approve", "models/files_present/pause_trading"]);
    common::process::assert_ok(&out);
    let again = sup.cli(&["approve", "models/files_present/pause_trading"]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("already approved"));
    std::fs::write(models.join("b.bin"), b"b").unwrap();
    let h = wait_health(&sup, "models healthy", |h| status(h, "models") == "HEALTHY");
    assert_eq!(policy(&h), "NO_NEW_TRADES");
    assert_eq!(h["policy"]["floor"], "NO_NEW_TRADES");
    // Until the operator releases it.
    let out = sup.cli(&["resume"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("safety policy"),
        "{out:?}"
    );
    let journal = ops(&sup);
    for kind in [
        "recommendation.pending",
        "recommendation.approved",
        "policy.changed",
    ] {
        assert!(journal.contains(kind), "{kind}: {journal}");
    }
    sup.stop();
}

/// A one-route HTTP server on 127.0.0.1:0 answering `code`.
fn http_server(code: u16) -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut c) = conn else { continue };
            let mut buf = [0u8; 1024];
            let _ = c.read(&mut buf);
            let _ = write!(
                c,
                "HTTP/1.1 {code} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    port
}

#[test]
fn declared_checks_of_every_kind_report_real_files_sockets_processes_and_commands() {
    let tmp = tempfile::tempdir().unwrap();
    let ok_port = http_server(200);
    let bad_port = http_server(503);
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let fresh = tmp.path().join("fresh");
    std::fs::write(&fresh, b"x").unwrap();
    let marker = format!("ballast-check-marker-{}", std::process::id());
    let _proc = Reaped(
        Command::new("/bin/sh")
            // The shell stays (its command line carries the marker); killing it leaves at most
            // a `sleep 1` behind.
            .args(["-c", "while :; do sleep 1; done", &marker])
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let script = tmp.path().join("check.sh");
    std::fs::write(&script, "#!/bin/sh\necho \"queue depth $1\"\nexit $1\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let check = |name: &str, body: String| format!("\n[[checks]]\nname = \"{name}\"\n{body}");
    let mut config = format!("[engine]\nenabled = false\n{FAST}");
    for (name, body) in [
        (
            "fresh",
            format!("kind = \"file_age\"\npath = \"{}\"", fresh.display()),
        ),
        (
            "missing",
            format!(
                "kind = \"file_age\"\npath = \"{}\"",
                tmp.path().join("nope").display()
            ),
        ),
        (
            "web-ok",
            format!("kind = \"http\"\nurl = \"http://127.0.0.1:{ok_port}/health\""),
        ),
        (
            "web-bad",
            format!("kind = \"http\"\nurl = \"http://127.0.0.1:{bad_port}/health\""),
        ),
        (
            "port-open",
            format!("kind = \"tcp\"\naddress = \"127.0.0.1:{ok_port}\""),
        ),
        (
            "port-closed",
            format!("kind = \"tcp\"\naddress = \"127.0.0.1:{closed}\"\ntimeout_ms = 500"),
        ),
        (
            "proc-there",
            format!("kind = \"process\"\npattern = \"{marker}\""),
        ),
        (
            "proc-gone",
            "kind = \"process\"\npattern = \"no-such-process-anywhere-xyz\"".to_owned(),
        ),
        (
            "cmd-ok",
            format!(
                "kind = \"command\"\ncommand = \"{}\"\nargs = [\"0\"]",
                script.display()
            ),
        ),
        (
            "cmd-warn",
            format!(
                "kind = \"command\"\ncommand = \"{}\"\nargs = [\"1\"]",
                script.display()
            ),
        ),
        (
            "cmd-crit",
            format!(
                "kind = \"command\"\ncommand = \"{}\"\nargs = [\"2\"]",
                script.display()
            ),
        ),
        (
            "cmd-slow",
            "kind = \"command\"\ncommand = \"/bin/sleep\"\nargs = [\"30\"]\ntimeout_ms = 200"
                .to_owned(),
        ),
        (
            "files",
            format!(
                "kind = \"files_present\"\npaths = [\"{}\", \"{}\"]\ndegraded_min = 1",
                fresh.display(),
                tmp.path().join("nope").display()
            ),
        ),
    ] {
        config.push_str(&check(name, body));
    }
    let sup = Sup::start(tmp.path(), &config);
    let names = [
        "fresh",
        "missing",
        "web-ok",
        "web-bad",
        "port-open",
        "port-closed",
        "proc-there",
        "proc-gone",
        "cmd-ok",
        "cmd-warn",
        "cmd-crit",
        "cmd-slow",
        "files",
    ];
    let h = wait_health(&sup, "every check reported", |h| {
        names
            .iter()
            .all(|n| status(h, n) != "UNKNOWN" && !status(h, n).is_empty())
    });
    let want = [
        ("fresh", "HEALTHY"),
        ("missing", "CRITICAL"),
        ("web-ok", "HEALTHY"),
        ("web-bad", "CRITICAL"),
        ("port-open", "HEALTHY"),
        ("port-closed", "CRITICAL"),
        ("proc-there", "HEALTHY"),
        ("proc-gone", "CRITICAL"),
        ("cmd-ok", "HEALTHY"),
        ("cmd-warn", "DEGRADED"),
        ("cmd-crit", "CRITICAL"),
        ("cmd-slow", "CRITICAL"),
        ("files", "DEGRADED"),
    ];
    for (name, st) in want {
        assert_eq!(status(&h, name), st, "{name}: {:#}", subsystem(&h, name));
    }
    let detail = |n: &str| {
        subsystem(&h, n)["checks"][0]["detail"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert!(
        detail("cmd-warn").contains("exit 1: queue depth 1"),
        "{}",
        detail("cmd-warn")
    );
    assert!(detail("cmd-slow").contains("did not finish within 200 ms"));
    assert!(detail("web-bad").contains("503"));
    assert!(detail("files").contains("1 of 2 present"));
    assert!(subsystem(&h, "web-bad")["checks"][0]["root_cause"].is_string());
    // Every check reports its latency.
    for n in names {
        assert!(subsystem(&h, n)["latency_us"].as_u64().unwrap() > 0, "{n}");
    }
    // Supportive checks only: overall DEGRADED, and HIGH issues → SAFE_RISK_PROFILE.
    assert_eq!(h["overall"], "DEGRADED");
    assert_eq!(policy(&h), "SAFE_RISK_PROFILE");
    assert_eq!(h["policy"]["size_multiplier"], "0.5");
    sup.stop();
}

#[test]
fn health_json_has_the_report_structure_and_a_bounded_history() {
    let tmp = tempfile::tempdir().unwrap();
    let sup = Sup::start(tmp.path(), &monitor_only(tmp.path(), "history = 5\n"));
    let path = tmp.path().join("data/state/health.json");
    let deadline = Instant::now() + Duration::from_secs(30);
    let h = loop {
        let h: Option<Value> = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok());
        if let Some(h) = h.filter(|h| h["history"].as_array().is_some_and(|a| a.len() == 5)) {
            break h;
        }
        assert!(Instant::now() < deadline, "history never reached its bound");
        std::thread::sleep(Duration::from_millis(20));
    };
    for key in [
        "at",
        "overall",
        "score",
        "policy",
        "trading_allowed",
        "subsystems",
        "issues",
        "recommendations",
        "counts",
        "history",
    ] {
        assert!(!h[key].is_null(), "{key}: {h:#}");
    }
    assert_eq!(
        h["counts"]["subsystems"],
        h["subsystems"].as_array().unwrap().len()
    );
    for s in h["subsystems"].as_array().unwrap() {
        for key in [
            "name",
            "critical",
            "impacts_trading",
            "status",
            "checks",
            "latency_us",
        ] {
            assert!(!s[key].is_null(), "{key} of {s:#}");
        }
    }
    let names: Vec<&str> = h["subsystems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    for n in ["journal", "alerts", "logging", "resources", "heal"] {
        assert!(names.contains(&n), "{n}: {names:?}");
    }
    let res = subsystem(&h, "resources")["checks"].as_array().unwrap();
    let checks: Vec<&str> = res.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(checks, ["cpu", "memory", "disk_free", "open_fds"]);
    // Still bounded later.
    let later = wait_health(&sup, "more cycles", |x| x["at"] != h["at"]);
    assert_eq!(later["history"].as_array().unwrap().len(), 5);
    sup.stop();
}

#[test]
fn a_live_engine_is_held_while_health_is_critical_and_a_paper_one_starts() {
    let tmp = tempfile::tempdir().unwrap();
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let check = format!(
        "[[checks]]\nname = \"database\"\nkind = \"tcp\"\naddress = \"127.0.0.1:{closed}\"\ncritical = true\ntimeout_ms = 300\n"
    );
    let live = Sup::start(
        tmp.path(),
        &format!("[general]\nmode = \"live\"\n{FAST}\n{check}"),
    );
    let s = live.wait_for("engine held by health", |s| {
        state(s, "engine") == "HELD"
            && Sup::service(s, "engine")["last_exit"]
                .as_str()
                .is_some_and(|w| w.contains("health"))
    });
    let why = Sup::service(&s, "engine")["last_exit"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(why.contains("overall health is CRITICAL"), "{why}");
    drop(live);
    let paper = Sup::start(tmp.path(), &format!("{FAST}\n{check}"));
    paper.wait_for("engine started", |s| {
        Sup::service(s, "engine")["pid"].is_i64()
    });
    paper.stop();
}

/// Part E, with a supervisor: `KILL_SWITCH` removed by hand while the engine runs leaves the
/// switch engaged — in the engine and in the supervisor's health (from the engine's journaled
/// state, not the file) — and `ballast resume` releases both.
#[test]
fn part_e_with_a_supervisor_a_kill_switch_removed_by_hand_stays_engaged_until_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let sup = Sup::start(
        tmp.path(),
        &format!("{FAST}hysteresis_secs = 0\n[feed]\nbars_per_second = 50\n"),
    );
    sup.wait_for("engine running", |s| state(s, "engine") == "RUNNING");
    assert!(sup.cli(&["kill", "--reason", "drill"]).status.success());
    wait_health(&sup, "the engine engaged", |h| {
        h["policy"]["kill_switch"] == true && h["engine"]["kill_switch"] == true
    });
    std::fs::remove_file(tmp.path().join("data/KILL_SWITCH")).unwrap();
    let first = wait_health(&sup, "a cycle", |h| h["at"].is_string());
    let later = wait_health(&sup, "two cycles later", |h| h["at"] != first["at"]);
    let later = wait_health(&sup, "a later cycle", |h| h["at"] != later["at"]);
    assert_eq!(later["policy"]["kill_switch"], true, "{later:#}");
    assert_eq!(later["engine"]["kill_switch"], true, "{later:#}");
    assert_eq!(policy(&later), "EMERGENCY_SHUTDOWN");
    let out = sup.cli(&["resume"]);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    wait_health(&sup, "the engine released", |h| {
        h["engine"]["kill_switch"] == false && h["policy"]["kill_switch"] == false
    });
    assert!(!tmp.path().join("data/KILL_SWITCH.release").exists());
    sup.stop();
}

/// A time from the future is no evidence of freshness: a `file_age` check on a file whose
/// modification time is a year ahead (a clock stepped back, a `touch -d`) is CRITICAL and says
/// why — not HEALTHY for a year, whatever happens to what writes it.
#[test]
fn a_file_dated_in_the_future_is_not_fresh() {
    let tmp = tempfile::tempdir().unwrap();
    let future = tmp.path().join("future");
    let fresh = tmp.path().join("fresh");
    std::fs::write(&future, b"x").unwrap();
    std::fs::write(&fresh, b"x").unwrap();
    let year = std::time::Duration::from_secs(365 * 86_400);
    std::fs::File::options()
        .write(true)
        .open(&future)
        .unwrap()
        .set_modified(std::time::SystemTime::now() + year)
        .unwrap();
    let config = format!(
        "[engine]\nenabled = false\n{FAST}\n[[checks]]\nname = \"future\"\nkind = \"file_age\"\npath = \"{}\"\n\n[[checks]]\nname = \"fresh\"\nkind = \"file_age\"\npath = \"{}\"\n",
        future.display(),
        fresh.display()
    );
    let sup = Sup::start(tmp.path(), &config);
    let h = wait_health(&sup, "both checks reported", |h| {
        ["future", "fresh"]
            .iter()
            .all(|n| !["UNKNOWN", ""].contains(&status(h, n)))
    });
    assert_eq!(
        status(&h, "fresh"),
        "HEALTHY",
        "{:#}",
        subsystem(&h, "fresh")
    );
    assert_eq!(
        status(&h, "future"),
        "CRITICAL",
        "{:#}",
        subsystem(&h, "future")
    );
    let detail = subsystem(&h, "future")["checks"][0]["detail"].to_string();
    assert!(
        detail.contains("in the future (not evidence of freshness"),
        "{detail}"
    );
}
