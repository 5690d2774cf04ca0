//! `ballast run` as a real supervisor of real processes: restarts and the failure budget, exit
//! 78, process-group stops that leave no grandchild (not even one that ignores SIGTERM), a service that ignores SIGTERM, a missing
//! executable, `ballast status` / `restart` / `reset` over the socket, the engine restarted after
//! kill -9 with its state intact, and the engine halting when the supervisor dies.
//!
//! Every wait polls for a condition with a deadline; none sleeps a fixed time hoping.

use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
use common::*;

const NO_ENGINE: &str = "[engine]\nenabled = false\n";

/// No engine, and one service `name` that sleeps until it is stopped.
fn sleeper(name: &str) -> String {
    format!(
        "{NO_ENGINE}
[[services]]
name = \"{name}\"
command = \"/bin/sh\"
args = [\"-c\", \"exec sleep 1000\"]
"
    )
}

#[test]
fn a_crashing_service_is_restarted_until_its_budget_then_failed_until_reset() {
    let tmp = tempfile::tempdir().unwrap();
    let sup = Sup::start(
        tmp.path(),
        &format!(
            "{NO_ENGINE}
[[services]]
name = \"crasher\"
command = \"/bin/sh\"
args = [\"-c\", \"exit 3\"]
restart = \"always\"
restart_delay_ms = 0
max_restarts = 3
restart_window_secs = 60
"
        ),
    );
    let s = sup.wait_for("FAILED", |s| state(s, "crasher") == "FAILED");
    let c = Sup::service(&s, "crasher");
    assert_eq!(c["restarts"], 3, "{c}");
    assert!(
        c["last_exit"]
            .as_str()
            .unwrap()
            .contains("FAILED until an operator resets it"),
        "{c}"
    );
    assert_eq!(s["overall"], "DEGRADED", "a supportive service");
    // FAILED is sticky: restart is refused, reset starts it again.
    let out = sup.cli(&["restart", "crasher"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("ballast reset crasher"));
    let out = sup.cli(&["reset", "crasher"]);
    common::process::assert_ok(&out);
    let s = sup.wait_for("FAILED again after reset", |s| {
        state(s, "crasher") == "FAILED" && Sup::service(s, "crasher")["restarts"] == 6
    });
    assert_eq!(Sup::service(&s, "crasher")["failures_in_window"], 4);
    let (code, _) = sup.stop();
    assert!(code.success());
    // Every event is in the ops journal, in order, durable and checksummed.
    let mut kinds = Vec::new();
    let scan = ballast_store::journal::scan(
        &ballast_store::RealStorage,
        &tmp.path().join("data/journal/ops"),
        &mut |r: &ballast_store::record::RecordRef<'_>| {
            kinds.push(format!("{} {}", r.kind, r.body.get()));
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(scan.verdict, ballast_store::journal::Verdict::Clean);
    let has = |kind: &str, text: &str| {
        kinds
            .iter()
            .filter(|k| k.starts_with(kind) && k.contains(text))
            .count()
    };
    assert!(
        kinds
            .first()
            .is_some_and(|k| k.starts_with("supervisor.started")),
        "{kinds:#?}"
    );
    assert!(
        kinds
            .last()
            .is_some_and(|k| k.starts_with("supervisor.stopped")),
        "{kinds:#?}"
    );
    assert_eq!(has("service.started ", "crasher"), 8, "{kinds:#?}");
    assert_eq!(has("service.exited ", "exit code 3"), 8, "{kinds:#?}");
    assert_eq!(has("service.backoff ", "crasher"), 6, "{kinds:#?}");
    assert_eq!(has("service.down ", "\"FAILED\""), 2, "{kinds:#?}");
    assert_eq!(has("service.reset ", "\"was\":\"FAILED\""), 1, "{kinds:#?}");
    // And an operator reads it with the journal commands.
    let out = ballast()
        .args([
            "journal",
            "dump",
            "--ops",
            "--type",
            "service.reset",
            "--data-dir",
        ])
        .arg(tmp.path().join("data"))
        .output()
        .unwrap();
    common::process::assert_ok(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("service.reset") && text.contains("crasher"),
        "{text}"
    );
    let out = ballast()
        .args(["journal", "verify", "--ops", "--data-dir"])
        .arg(tmp.path().join("data"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn exit_78_is_failed_config_without_a_restart_and_a_missing_command_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let sup = Sup::start(
        tmp.path(),
        &format!(
            "{NO_ENGINE}
[[services]]
name = \"misconfigured\"
command = \"/bin/sh\"
args = [\"-c\", \"echo bad key >&2; exit 78\"]
kind = \"critical\"
restart = \"always\"
restart_delay_ms = 0

[[services]]
name = \"missing\"
command = \"/nonexistent/bot\"
restart = \"always\"
restart_delay_ms = 0
max_restarts = 2
"
        ),
    );
    let s = sup.wait_for("FAILED_CONFIG, both", |s| {
        state(s, "misconfigured") == "FAILED_CONFIG" && state(s, "missing") == "FAILED_CONFIG"
    });
    assert_eq!(Sup::service(&s, "misconfigured")["restarts"], 0);
    assert_eq!(Sup::service(&s, "missing")["restarts"], 0);
    assert_eq!(s["overall"], "FAILED_CONFIG", "a critical service");
    let err = std::fs::read_to_string(tmp.path().join("supervisor.err")).unwrap();
    assert!(err.contains("cannot start /nonexistent/bot"), "{err}");
    // Its output went to its log.
    let log = std::fs::read_to_string(tmp.path().join("data/logs/misconfigured.log")).unwrap();
    assert!(log.contains("bad key"), "{log}");
    assert!(sup.stop().0.success());
}

#[test]
fn a_stop_leaves_no_grandchild_and_kills_what_ignores_sigterm() {
    let tmp = tempfile::tempdir().unwrap();
    let pids = tmp.path().join("pids");
    std::fs::create_dir_all(&pids).unwrap();
    let sup = Sup::start(
        tmp.path(),
        &format!(
            "{NO_ENGINE}
[[services]]
name = \"parent\"
command = \"/bin/sh\"
args = [\"-c\", \"(trap '' TERM; exec sleep 1000) & echo $! > {p}/grandchild; echo $$ > {p}/parent; wait\"]
min_uptime_secs = 0

[[services]]
name = \"stubborn\"
command = \"/bin/sh\"
args = [\"-c\", \"trap '' TERM; echo $$ > {p}/stubborn; while :; do sleep 0.05; done\"]
depends_on = [\"parent\"]
stop_timeout_secs = 1
min_uptime_secs = 0
",
            p = pids.display()
        ),
    );
    sup.wait_for("both running", |s| {
        state(s, "parent") == "RUNNING" && state(s, "stubborn") == "RUNNING"
    });
    let read = |n: &str| -> i32 {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(t) = std::fs::read_to_string(pids.join(n)) {
                if let Ok(p) = t.trim().parse() {
                    return p;
                }
            }
            assert!(Instant::now() < deadline, "{n} never wrote its pid");
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    let (grandchild, parent, stubborn) = (read("grandchild"), read("parent"), read("stubborn"));
    assert!(alive(grandchild) && alive(parent) && alive(stubborn));
    let (code, took) = sup.stop();
    assert!(code.success(), "{code:?}");
    for (what, pid) in [
        ("grandchild", grandchild),
        ("parent", parent),
        ("stubborn", stubborn),
    ] {
        assert!(!alive(pid), "{what} {pid} survived the stop");
    }
    assert!(
        took < Duration::from_secs(5),
        "the stubborn one is killed after its 1 s stop timeout: {took:?}"
    );
    let err = std::fs::read_to_string(tmp.path().join("supervisor.err")).unwrap();
    assert!(
        err.contains("stubborn: still up after its stop timeout"),
        "{err}"
    );
    // Reverse order: the dependent service stopped first.
    let first = |n: &str| err.find(&format!("{n}: stopping")).unwrap();
    assert!(first("stubborn") < first("parent"), "{err}");
}

#[test]
fn the_engine_comes_back_after_kill_9_with_its_state_and_halts_when_the_supervisor_dies() {
    let tmp = tempfile::tempdir().unwrap();
    let sup = Sup::start(
        tmp.path(),
        "[feed]\nbars_per_second = 200\n\n[[services]]\nname = \"helper\"\ncommand = \"/bin/sh\"\nargs = [\"-c\", \"exec sleep 1000\"]\nmin_uptime_secs = 0\n",
    );
    let s = sup.wait_for("engine running", |s| state(s, "engine") == "RUNNING");
    assert_eq!(Sup::service(&s, "engine")["critical"], true);
    let pid = Sup::service(&s, "engine")["pid"].as_i64().unwrap() as i32;
    let heartbeat = tmp.path().join("data/run/engine.heartbeat");
    let bars = || -> u64 {
        std::fs::read_to_string(&heartbeat)
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .and_then(|v| v["bars"].as_u64())
            .unwrap_or(0)
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while bars() < 20 {
        assert!(Instant::now() < deadline, "the engine does not trade");
        std::thread::sleep(Duration::from_millis(20));
    }
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    let before = bars();
    let s = sup.wait_for("engine back", |s| {
        state(s, "engine") == "RUNNING"
            && Sup::service(s, "engine")["pid"].as_i64() != Some(pid.into())
    });
    assert_eq!(Sup::service(&s, "engine")["restarts"], 1);
    let err = std::fs::read_to_string(tmp.path().join("supervisor.err")).unwrap();
    assert!(err.contains("engine: signal 9"), "{err}");
    // Recovered, not started over: its log says so and the bar count only grows.
    let deadline = Instant::now() + Duration::from_secs(30);
    while bars() <= before {
        assert!(
            Instant::now() < deadline,
            "the restarted engine does not continue"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = std::fs::read_to_string(tmp.path().join("data/logs/engine.log")).unwrap();
    assert!(log.matches("recovered:").count() >= 2, "{log}");
    // The supervisor dies without a chance to stop anything: the engine halts by itself.
    let status = sup.status().unwrap();
    let engine = Sup::service(&status, "engine")["pid"].as_i64().unwrap() as i32;
    let helper = Sup::service(&status, "helper")["pid"].as_i64().unwrap() as i32;
    let mut sup = sup;
    sup.child.kill().unwrap(); // SIGKILL
    sup.child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while alive(engine) {
        assert!(
            Instant::now() < deadline,
            "the engine kept running without its supervisor"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // The helper has no parent-death signal: it is left behind (the next supervisor of this
    // data directory would find it as an orphan); the test cleans it up.
    let _ = rustix::process::kill_process_group(
        rustix::process::Pid::from_raw(helper).unwrap(),
        rustix::process::Signal::KILL,
    );
}

#[test]
fn status_without_a_supervisor_says_how_to_start_one() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("journal")).unwrap();
    let out = ballast()
        .args(["status", "--data-dir"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no supervisor runs") && err.contains("ballast run"),
        "{err}"
    );
}

#[test]
fn a_notify_service_is_starting_until_it_sends_ready() {
    let tmp = tempfile::tempdir().unwrap();
    let flags = tmp.path().join("flags");
    std::fs::create_dir_all(&flags).unwrap();
    let sup = Sup::start(
        tmp.path(),
        &format!(
            "{NO_ENGINE}
[[services]]
name = \"bot\"
command = \"/bin/sh\"
args = [\"-c\", \"touch {f}/started; while [ ! -f {f}/go ]; do sleep 0.02; done; {exe} notify READY=1 STATUS=warmed-up; exec sleep 1000\"]
readiness = \"notify\"

[[services]]
name = \"after-bot\"
command = \"/bin/sh\"
args = [\"-c\", \"exec sleep 1000\"]
depends_on = [\"bot\"]
min_uptime_secs = 0
",
            f = flags.display(),
            exe = env!("CARGO_BIN_EXE_ballast")
        ),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while !flags.join("started").exists() {
        assert!(Instant::now() < deadline, "the service never started");
        std::thread::sleep(Duration::from_millis(10));
    }
    // Started, not ready: STARTING, and its dependent waits.
    let s = sup.status().unwrap();
    assert_eq!(state(&s, "bot"), "STARTING", "{s}");
    assert_eq!(state(&s, "after-bot"), "WAITING (for bot)", "{s}");
    std::fs::write(flags.join("go"), "").unwrap();
    sup.wait_for("READY=1, then the dependent", |s| {
        state(s, "bot") == "RUNNING" && state(s, "after-bot") == "RUNNING"
    });
    let err = std::fs::read_to_string(tmp.path().join("supervisor.err")).unwrap();
    assert!(
        err.contains("bot: RUNNING (READY=1)") && err.contains("bot: status: warmed-up"),
        "{err}"
    );
    assert!(sup.stop().0.success());
}

#[test]
fn orphans_of_a_killed_supervisor_are_found_and_killed_at_startup_in_paper_mode() {
    let tmp = tempfile::tempdir().unwrap();
    let pidfile = tmp.path().join("svc.pid");
    let config = format!(
        "{NO_ENGINE}
[[services]]
name = \"lingerer\"
command = \"/bin/sh\"
args = [\"-c\", \"echo $$ > {p}; exec sleep 1000\"]
min_uptime_secs = 0
",
        p = pidfile.display()
    );
    let mut first = Sup::start(tmp.path(), &config);
    first.wait_for("running", |s| state(s, "lingerer") == "RUNNING");
    let orphan: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // The supervisor dies without stopping anything: its service is left behind.
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    assert!(alive(orphan), "left behind");
    std::fs::remove_file(&pidfile).unwrap();
    let second = Sup::start(tmp.path(), &config);
    let deadline = Instant::now() + Duration::from_secs(30);
    while alive(orphan) {
        assert!(
            Instant::now() < deadline,
            "the orphan {orphan} was not killed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let err = std::fs::read_to_string(tmp.path().join("supervisor.err")).unwrap();
    assert!(
        err.contains(&format!(
            "heal: orphans pid {orphan} (lingerer sleep 1000): left by a previous supervisor of this data directory"
        )) && err.contains("process group killed"),
        "{err}"
    );
    second.wait_for("its own lingerer", |s| state(s, "lingerer") == "RUNNING");
    assert!(second.stop().0.success());
}

#[test]
fn liveness_a_stale_heartbeat_or_a_silent_watchdog_kills_and_counts_as_a_failure() {
    let tmp = tempfile::tempdir().unwrap();
    let hb = tmp.path().join("bot.heartbeat");
    let go = tmp.path().join("go");
    let sup = Sup::start(
        tmp.path(),
        &format!(
            "{NO_ENGINE}
[[services]]
name = \"stale\"
command = \"/bin/sh\"
args = [\"-c\", \"while [ ! -f {go} ]; do sleep 0.02; done; touch {hb}; exec sleep 1000\"]
readiness = \"heartbeat\"
heartbeat_file = \"{hb}\"
heartbeat_max_age_secs = 1
restart_delay_ms = 0

[[services]]
name = \"silent\"
command = \"/bin/sh\"
args = [\"-c\", \"{exe} notify READY=1 WATCHDOG=1; exec sleep 1000\"]
readiness = \"notify\"
watchdog_secs = 1
restart_delay_ms = 0
",
            go = go.display(),
            hb = hb.display(),
            exe = env!("CARGO_BIN_EXE_ballast")
        ),
    );
    // No heartbeat yet: STARTING (heartbeat readiness).
    let s = sup.wait_for("started", |s| Sup::service(s, "stale")["pid"].is_i64());
    assert_eq!(state(&s, "stale"), "STARTING", "{s}");
    std::fs::write(&go, "").unwrap();
    sup.wait_for("RUNNING on its heartbeat", |s| {
        state(s, "stale") == "RUNNING"
    });
    // Then it never touches it again, and the other never sends another WATCHDOG=1.
    let s = sup.wait_for("both killed by liveness and restarted", |s| {
        ["stale", "silent"].iter().all(|n| {
            Sup::service(s, n)["restarts"].as_u64() >= Some(1)
                && Sup::service(s, n)["last_exit"]
                    .as_str()
                    .is_some_and(|e| e.contains("liveness kill"))
        })
    });
    assert!(Sup::service(&s, "stale")["failures_in_window"].as_u64() >= Some(1));
    let err = std::fs::read_to_string(tmp.path().join("supervisor.err")).unwrap();
    assert!(err.contains("stale: liveness failed: heartbeat"), "{err}");
    assert!(
        err.contains("silent: liveness failed: no WATCHDOG=1"),
        "{err}"
    );
    assert!(sup.stop().0.success());
}

#[test]
fn an_http_service_is_starting_until_its_probe_answers_2xx() {
    use std::io::{Read, Write};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let ready = Arc::new(AtomicBool::new(false));
    let probes = Arc::new(AtomicUsize::new(0));
    {
        let (ready, probes) = (Arc::clone(&ready), Arc::clone(&probes));
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let mut buf = [0u8; 1024];
                let _ = conn.read(&mut buf);
                probes.fetch_add(1, Ordering::SeqCst);
                let answer: &[u8] = if ready.load(Ordering::SeqCst) {
                    b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
                } else {
                    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"
                };
                let _ = conn.write_all(answer);
            }
        });
    }
    let tmp = tempfile::tempdir().unwrap();
    let sup = Sup::start(
        tmp.path(),
        &format!(
            "{NO_ENGINE}
[[services]]
name = \"web\"
command = \"/bin/sh\"
args = [\"-c\", \"exec sleep 1000\"]
readiness = \"http\"
readiness_url = \"http://127.0.0.1:{port}/ready\"
"
        ),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while probes.load(Ordering::SeqCst) < 3 {
        assert!(Instant::now() < deadline, "no probe arrived");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        state(&sup.status().unwrap(), "web"),
        "STARTING",
        "503 is not ready"
    );
    ready.store(true, Ordering::SeqCst);
    sup.wait_for("RUNNING on 200", |s| state(s, "web") == "RUNNING");
    assert!(sup.stop().0.success());
}

#[test]
fn children_start_clean_and_a_daemonizing_service_is_named_and_its_leftovers_killed() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("signals");
    let daemon = tmp.path().join("daemon.pid");
    let sup = Sup::start(
        tmp.path(),
        &format!(
            "{NO_ENGINE}
[[services]]
name = \"clean\"
command = \"/bin/sh\"
args = [\"-c\", \"grep -E '^Sig(Blk|Ign)' /proc/self/status > {out}; exec sleep 1000\"]
min_uptime_secs = 0

[[services]]
name = \"forker\"
command = \"/bin/sh\"
args = [\"-c\", \"sleep 1000 & echo $! > {daemon}; exit 0\"]
",
            out = out.display(),
            daemon = daemon.display()
        ),
    );
    sup.wait_for("clean running, forker stopped", |s| {
        state(s, "clean") == "RUNNING"
            && state(s, "forker") == "STOPPED"
            && Sup::service(s, "forker")["last_exit"].is_string()
    });
    // The grep ran in a fresh child: nothing blocked, nothing ignored — but signals 32 and 33,
    // which the C library reserves for its threads and handles itself (a sandbox may hand them
    // down ignored).
    // RUNNING can come before the shell's grep has written its two lines (min_uptime 0).
    let sig = common::wait::until(
        std::time::Duration::from_secs(30),
        || {
            let t = std::fs::read_to_string(&out).unwrap_or_default();
            if t.lines().count() >= 2 {
                Ok(t)
            } else {
                Err(t)
            }
        },
        |t| format!("the clean service never wrote its signal masks: {t:?}"),
    );
    let masks: Vec<u64> = sig
        .lines()
        .map(|l| u64::from_str_radix(l.split_whitespace().nth(1).unwrap(), 16).unwrap())
        .collect();
    assert_eq!(masks.len(), 2, "{sig}");
    let c_library = (1u64 << 31) | (1u64 << 32);
    assert!(masks.iter().all(|m| m & !c_library == 0), "{sig}");
    let left: i32 = std::fs::read_to_string(&daemon)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while alive(left) {
        assert!(
            Instant::now() < deadline,
            "the daemonized child {left} survived"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let err = std::fs::read_to_string(tmp.path().join("supervisor.err")).unwrap();
    assert!(
        err.contains("forker: exited leaving 1 process(es)") && err.contains("daemonizes"),
        "{err}"
    );
    assert!(sup.stop().0.success());
}

#[test]
fn a_non_executable_command_and_a_deleted_heartbeat_get_clear_states_and_messages() {
    let tmp = tempfile::tempdir().unwrap();
    let script = tmp.path().join("bot.sh");
    std::fs::write(&script, "#!/bin/sh\nexec sleep 1000\n").unwrap(); // not chmod +x
    let hb = tmp.path().join("hb");
    let sup = Sup::start(
        tmp.path(),
        &format!(
            "{NO_ENGINE}
[[services]]
name = \"noexec\"
command = \"{script}\"
restart_delay_ms = 0
max_restarts = 1

[[services]]
name = \"beating\"
command = \"/bin/sh\"
args = [\"-c\", \"touch {hb}; exec sleep 1000\"]
readiness = \"heartbeat\"
heartbeat_file = \"{hb}\"
heartbeat_max_age_secs = 1
max_restarts = 1
restart_window_secs = 600
",
            script = script.display(),
            hb = hb.display()
        ),
    );
    sup.wait_for("noexec FAILED_CONFIG, beating RUNNING", |s| {
        state(s, "noexec") == "FAILED_CONFIG" && state(s, "beating") == "RUNNING"
    });
    // The heartbeat file disappears: a liveness failure, named as such.
    std::fs::remove_file(&hb).unwrap();
    let s = sup.wait_for("beating restarted after its heartbeat vanished", |s| {
        Sup::service(s, "beating")["restarts"].as_u64() >= Some(1)
    });
    assert!(
        Sup::service(&s, "beating")["last_exit"]
            .as_str()
            .is_some_and(|e| e.contains("liveness kill")),
        "{s}"
    );
    let err = std::fs::read_to_string(tmp.path().join("supervisor.err")).unwrap();
    assert!(
        err.contains(&format!(
            "cannot start {}: Permission denied",
            script.display()
        )),
        "{err}"
    );
    assert!(
        err.contains("beating: liveness failed: heartbeat") && err.contains("missing"),
        "{err}"
    );
    assert!(sup.stop().0.success());
}

/// Live processes tagged with this data directory (every service and its children carry the
/// tag), with their start times: a pid alive in two scans with the same start time lived
/// between them.
fn tagged(data: &std::path::Path) -> Vec<(i32, String)> {
    let want = format!("BALLAST_DATA_DIR={}", data.display());
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(env) = std::fs::read(e.path().join("environ")) else {
            continue;
        };
        if !env.split(|b| *b == 0).any(|v| v == want.as_bytes()) || !alive(pid) {
            continue;
        }
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let start = stat
            .rsplit_once(')')
            .and_then(|(_, r)| r.split_whitespace().nth(19).map(str::to_owned))
            .unwrap_or_default();
        out.push((pid, start));
    }
    out
}

/// The supervisor's view matches the processes: a service is STARTING or RUNNING exactly when
/// status names a pid, and every process of the data directory that lived through the status
/// call is the pid of a service status shows up (no live child unaccounted for).
fn accounted(sup: &Sup) -> Value {
    let data = sup.dir.join("data");
    let before = tagged(&data);
    let s = sup.status().expect("status answers");
    let after = tagged(&data);
    let mut up = Vec::new();
    for svc in s["services"].as_array().unwrap() {
        let st = svc["state"].as_str().unwrap();
        let holds = matches!(st, "STARTING" | "RUNNING");
        assert_eq!(
            holds,
            svc["pid"].is_i64(),
            "{}: state {st} with pid {}: the supervisor's view diverges from its process\n{s}",
            svc["name"],
            svc["pid"]
        );
        if let Some(p) = svc["pid"].as_i64() {
            up.push(p as i32);
        }
    }
    for p in before.iter().filter(|p| after.contains(p)) {
        assert!(
            up.contains(&p.0),
            "process {} of this data directory runs, but status shows no service up with that pid\n{s}",
            p.0
        );
    }
    s
}

/// issue 10 item 1: `ballast reset` of a RUNNING service marked it STOPPED while its process
/// ran on. Every control request (restart, reset, heal, approve, reject, resume/release) is
/// sent to a service in every state (STARTING, RUNNING, BACKOFF, FAILED, STOPPED, waiting for
/// a dependency); after each, the supervisor's view matches the processes it holds.
#[test]
fn item_1_reset_of_a_running_service_is_refused_and_no_request_loses_a_live_child() {
    let tmp = tempfile::tempdir().unwrap();
    let sup = Sup::start(
        tmp.path(),
        &format!(
            "{NO_ENGINE}
[[services]]
name = \"running\"
command = \"/bin/sh\"
args = [\"-c\", \"exec sleep 1000\"]
min_uptime_secs = 0

[[services]]
name = \"starting\"
command = \"/bin/sh\"
args = [\"-c\", \"exec sleep 1000\"]
readiness = \"notify\"

[[services]]
name = \"backoff\"
command = \"/bin/sh\"
args = [\"-c\", \"exit 3\"]
restart = \"always\"
restart_delay_ms = 60000
max_restarts = 10
restart_window_secs = 604800

[[services]]
name = \"failed\"
command = \"/bin/sh\"
args = [\"-c\", \"exit 3\"]
restart = \"always\"
restart_delay_ms = 0
max_restarts = 0

[[services]]
name = \"stopped\"
command = \"/bin/sh\"
args = [\"-c\", \"exit 0\"]
restart = \"never\"

[[services]]
name = \"dependent\"
command = \"/bin/sh\"
args = [\"-c\", \"exec sleep 1000\"]
depends_on = [\"backoff\"]
min_uptime_secs = 0
"
        ),
    );
    let settled = |s: &Value| {
        state(s, "running") == "RUNNING"
            && state(s, "starting") == "STARTING"
            && state(s, "backoff") == "BACKOFF"
            && state(s, "failed") == "FAILED"
            && state(s, "stopped") == "STOPPED"
            && state(s, "dependent").starts_with("WAITING")
    };
    let s = sup.wait_for("every state", settled);
    let pid_of = |s: &Value, n: &str| Sup::service(s, n)["pid"].as_i64();
    let running = pid_of(&s, "running").unwrap();
    accounted(&sup);

    // The repro: reset of a RUNNING service is refused, naming restart; nothing changes.
    let out = sup.cli(&["reset", "running"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("running is RUNNING") && err.contains("ballast restart running"),
        "{err}"
    );
    let s = accounted(&sup);
    assert_eq!(state(&s, "running"), "RUNNING");
    assert_eq!(pid_of(&s, "running"), Some(running));
    assert!(alive(running as i32));

    let services = [
        "running",
        "starting",
        "backoff",
        "failed",
        "stopped",
        "dependent",
    ];
    for service in services {
        for req in [
            vec!["reset", service],
            vec!["restart", service],
            vec!["heal"],
            vec!["approve", "no-such-recommendation"],
            vec!["reject", "no-such-recommendation"],
            vec!["resume"],
        ] {
            let before = sup.status().unwrap();
            let was = state(&before, service);
            let out = sup.cli(&req);
            let err = String::from_utf8_lossy(&out.stderr).into_owned();
            let s = accounted(&sup);
            match (req[0], was.as_str()) {
                ("reset", "FAILED") => assert!(out.status.success(), "{err}"),
                ("reset", _) => {
                    assert!(!out.status.success(), "reset of {was} {service}");
                    assert!(err.contains(&format!("ballast restart {service}")), "{err}");
                    assert_eq!(state(&s, service), was, "a refused reset changes nothing");
                    assert_eq!(pid_of(&s, service), pid_of(&before, service));
                }
                ("restart", "FAILED") => {
                    assert!(err.contains(&format!("ballast reset {service}")), "{err}")
                }
                ("restart", "RUNNING" | "STARTING") => {
                    assert!(out.status.success(), "{err}");
                    let old = pid_of(&before, service).unwrap();
                    let s = sup.wait_for("a new process", |s| {
                        pid_of(s, service).is_some_and(|p| p != old)
                    });
                    assert!(
                        !alive(old as i32),
                        "the old process of {service} still runs"
                    );
                    assert_eq!(state(&s, service), was);
                }
                ("restart", _) => assert!(out.status.success(), "{err}"),
                _ => {}
            }
            // Back to the states the services settle in, accounted for all the way.
            let deadline = Instant::now() + Duration::from_secs(30);
            while !settled(&accounted(&sup)) {
                assert!(
                    Instant::now() < deadline,
                    "after {req:?}: {:?}",
                    sup.status()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
    assert!(sup.stop().0.success());
}

/// Run `cmd` to its end, at most 30 s (then it is killed and the test fails).
fn run_bounded(mut cmd: std::process::Command, what: &str) -> std::process::Output {
    process::run_within(&mut cmd, Duration::from_secs(30)).unwrap_or_else(|out| {
        panic!(
            "{what} did not exit: it started beside the other runtime\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// issue 10 item 3: a second runtime on the same data directory drove the wrong engine. One
/// supervisor per data directory (`run/supervisor.lock`, the owner named in the refusal), no
/// supervisor beside a standalone engine and no standalone engine beside a supervisor — each
/// refused before anything starts, without touching the other runtime's files.
#[test]
fn item_3_one_supervisor_per_data_directory_and_none_beside_a_standalone_engine() {
    let tmp = tempfile::tempdir().unwrap();
    let sup = Sup::start(
        &tmp.path().join("a"),
        &format!(
            "{NO_ENGINE}
[[services]]
name = \"bot\"
command = \"/bin/sh\"
args = [\"-c\", \"exec sleep 1000\"]
min_uptime_secs = 0
"
        ),
    );
    let s = sup.wait_for("bot running", |s| state(s, "bot") == "RUNNING");
    let bot = Sup::service(&s, "bot")["pid"].as_i64().unwrap();
    let data = sup.dir.join("data");
    let mut second = ballast();
    second
        .args(["run", "--data-dir"])
        .arg(&data)
        .arg("--config")
        .arg(sup.dir.join("ballast.toml"));
    let out = run_bounded(second, "a second supervisor");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "another supervisor (pid {}, started ",
            sup.child.id()
        )) && err.contains("run/supervisor.lock")
            && err.contains("one supervisor per data directory"),
        "{err}"
    );
    let s = sup.status().unwrap();
    assert_eq!(state(&s, "bot"), "RUNNING");
    assert_eq!(Sup::service(&s, "bot")["pid"].as_i64(), Some(bot));
    // A standalone engine beside the running supervisor is refused too.
    let mut engine = ballast();
    engine
        .args(["engine", "--standalone", "--max-bars", "5", "--data-dir"])
        .arg(&data);
    let out = run_bounded(engine, "a standalone engine");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("a supervisor (pid {})", sup.child.id()))
            && err.contains("nothing was started"),
        "{err}"
    );
    assert!(
        !data.join("journal/engine").exists()
            || std::fs::read_dir(data.join("journal/engine"))
                .unwrap()
                .next()
                .is_none()
    );
    assert!(sup.stop().0.success());

    // A standalone engine runs; `ballast run` beside it is refused, naming it.
    let data = tmp.path().join("b/data");
    let mut standalone = ballast()
        .args([
            "engine",
            "--standalone",
            "--bars-per-second",
            "20",
            "--data-dir",
        ])
        .arg(&data)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !data.join("run/engine.heartbeat").exists() {
        assert!(Instant::now() < deadline, "the standalone engine never ran");
        std::thread::sleep(Duration::from_millis(20));
    }
    let cfg = tmp.path().join("b/ballast.toml");
    std::fs::write(&cfg, "[feed]\nbars_per_second = 20\n").unwrap();
    let mut beside = ballast();
    beside
        .args(["run", "--data-dir"])
        .arg(&data)
        .arg("--config")
        .arg(&cfg);
    let out = run_bounded(beside, "a supervisor beside a standalone engine");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("a standalone engine (pid {})", standalone.id()))
            && err.contains("run/engine.lock"),
        "{err}"
    );
    // Nothing of a supervisor was left: no socket, no ops journal, no policy or health file.
    assert!(!data.join("run/supervisor.sock").exists());
    let empty = |d: &str| std::fs::read_dir(data.join(d)).map_or(true, |mut e| e.next().is_none());
    assert!(
        empty("journal/ops"),
        "the refused supervisor wrote an ops journal"
    );
    assert!(!data.join("state/policy.json").exists());
    assert!(!data.join("state/health.json").exists());
    assert!(
        alive(standalone.id() as i32),
        "the standalone engine was disturbed"
    );
    process::sigterm(&standalone);
    assert!(standalone.wait().unwrap().success());
}

/// `(seq, type, body)` of the engine journal's valid records (the engine may be writing it).
fn engine_records(data: &std::path::Path) -> Vec<(u64, String, String)> {
    journal::engine_scan(data).0
}

/// issue 10 item 14: the engine outlived a SIGKILLed supervisor by up to a second (its pacing
/// sleep), and a bar in progress went on to send its orders. The engine is caught between an
/// order intent and its send (a chaos stall of 20 s); the supervisor is SIGKILLed: the engine
/// halts at once, and no order is sent after the supervisor's death.
#[test]
fn item_14_the_engine_halts_before_its_next_order_when_its_supervisor_is_killed() {
    let tmp = tempfile::tempdir().unwrap();
    let mut sup = Sup::start_with_env(
        tmp.path(),
        "[feed]\nbars_per_second = 0\n",
        &[("BALLAST_CHAOS_STALL_BEFORE_SEND_MS", "20000")],
    );
    let s = sup.wait_for("engine running", |s| state(s, "engine") == "RUNNING");
    let engine = Sup::service(&s, "engine")["pid"].as_i64().unwrap() as i32;
    let data = tmp.path().join("data");
    let log = data.join("logs/engine.log");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(&log).is_ok_and(|l| l.contains("chaos: stalling")) {
        assert!(
            Instant::now() < deadline,
            "the engine never placed an order"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let intent = engine_records(&data)
        .into_iter()
        .rfind(|(_, k, b)| k == "engine.decision" && b.contains("\"client_order_id\""))
        .expect("the stalled order's intent is journaled")
        .0;
    sup.child.kill().unwrap(); // SIGKILL: no chance to stop anything
    sup.child.wait().unwrap();
    let died = Instant::now();
    let deadline = died + Duration::from_secs(40);
    while alive(engine) {
        assert!(
            Instant::now() < deadline,
            "the engine kept running without its supervisor"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let outlived = died.elapsed();
    let sent: Vec<u64> = engine_records(&data)
        .into_iter()
        .filter(|(seq, k, _)| *seq > intent && k == "order.sent")
        .map(|(seq, ..)| seq)
        .collect();
    assert!(
        sent.is_empty(),
        "orders were sent after the supervisor died (seqs {sent:?}, intent at seq {intent})"
    );
    assert!(
        outlived < Duration::from_secs(5),
        "the engine outlived its supervisor by {outlived:?}"
    );
    // Its log pipe died with the supervisor: the journal is the evidence. The intent stays
    // unsent in the journal; the next start's recovery sends it.
}

/// issue 10 item 13: under `umask 000` the data directory and `run/` were created 0777 and the
/// control socket bound 0777 before its chmod; and the socket served one connection at a time,
/// so one idle client made `ballast status` fail. Now the directories are created with their
/// modes whatever the umask, the socket is 0600 from its first instant (bound in a private
/// directory), connections are served at once — an idle one never delays another — with a
/// bound on how many and a per-connection deadline.
#[test]
fn item_13_control_socket_and_directories_are_private_under_umask_000_and_idle_clients_block_nothing()
 {
    use std::io::{BufRead, BufReader};
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::net::UnixStream;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let cfg = tmp.path().join("ballast.toml");
    std::fs::write(
        &cfg,
        format!(
            "{NO_ENGINE}
[[services]]
name = \"bot\"
command = \"/bin/sh\"
args = [\"-c\", \"exec sleep 1000\"]
min_uptime_secs = 0
"
        ),
    )
    .unwrap();
    let child = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg("umask 000; exec \"$0\" run --data-dir \"$1\" --config \"$2\"")
        .arg(env!("CARGO_BIN_EXE_ballast"))
        .arg(&data)
        .arg(&cfg)
        .env_remove("BALLAST_HOME")
        .env_remove("BALLAST_CONFIG")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(tmp.path().join("supervisor.err")).unwrap())
        .spawn()
        .unwrap();
    let sup = Sup {
        child,
        dir: tmp.path().to_owned(),
    };
    sup.wait_for("bot running", |s| state(s, "bot") == "RUNNING");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    let socket = data.join("run/supervisor.sock");
    assert_eq!(mode(&socket), 0o600, "the control socket");
    assert_eq!(mode(&data.join("run")), 0o700, "run/");
    for d in [
        "",
        "logs",
        "journal",
        "journal/ops",
        "state",
        "quarantine",
        "inbox",
    ] {
        let p = data.join(d);
        if p.exists() {
            assert_eq!(
                mode(&p) & 0o027,
                0,
                "{} is {:o} under umask 000",
                p.display(),
                mode(&p)
            );
        }
    }
    // No private binding directory is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(data.join("run"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".control"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // An idle client does not delay `ballast status`.
    let idle = UnixStream::connect(&socket).unwrap();
    let t = Instant::now();
    assert!(
        sup.status().is_some(),
        "status with an idle client connected"
    );
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "status took {:?} beside an idle client",
        t.elapsed()
    );
    // Beyond the bound, a connection is answered with a clear error, not left hanging.
    let max = ballast_supervisor::control::MAX_CONNECTIONS;
    let held: Vec<UnixStream> = (1..max)
        .map(|_| UnixStream::connect(&socket).unwrap())
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    let refusal = loop {
        let extra = UnixStream::connect(&socket).unwrap();
        extra
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut line = String::new();
        let _ = BufReader::new(&extra).read_line(&mut line);
        if line.contains("connections already") {
            break line;
        }
        assert!(Instant::now() < deadline, "never refused: {line}");
    };
    assert!(
        refusal.contains(&format!("serving {max} connections")),
        "{refusal}"
    );
    // Idle connections are dropped after the per-connection deadline; status works again.
    let t = Instant::now();
    let mut answer = String::new();
    idle.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let _ = BufReader::new(&idle).read_line(&mut answer);
    assert!(answer.contains("no complete request within"), "{answer}");
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    sup.wait_for("status after the idle clients were dropped", |_| true);
    drop(held);
    assert!(sup.stop().0.success());
}

/// issue 10 item 17 (part): a missing or non-executable service command was retried until its
/// budget ran out, as FAILED. It is FAILED_CONFIG at once — never started again by itself — and
/// status says why and what to fix.
#[test]
fn item_17_a_missing_or_non_executable_command_is_failed_config_at_once_and_says_why() {
    let tmp = tempfile::tempdir().unwrap();
    let script = tmp.path().join("bot.sh");
    std::fs::write(&script, "#!/bin/sh\nexec sleep 1000\n").unwrap(); // not chmod +x
    let no_interpreter = tmp.path().join("old.sh");
    std::fs::write(&no_interpreter, "#!/nonexistent/python9\nprint(1)\n").unwrap();
    std::fs::set_permissions(
        &no_interpreter,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let sup = Sup::start(
        tmp.path(),
        &format!(
            "{NO_ENGINE}
[[services]]
name = \"missing\"
command = \"/nonexistent/bot\"
restart = \"always\"
restart_delay_ms = 0
max_restarts = 5

[[services]]
name = \"not-in-path\"
command = \"no-such-command-of-ballast\"
restart = \"always\"
restart_delay_ms = 0
max_restarts = 5

[[services]]
name = \"noexec\"
command = \"{script}\"
restart = \"always\"
restart_delay_ms = 0
max_restarts = 5

[[services]]
name = \"a-dir\"
command = \"{dir}\"
restart = \"always\"
max_restarts = 5

[[services]]
name = \"no-interpreter\"
command = \"{no_interpreter}\"
restart = \"always\"
max_restarts = 5
",
            script = script.display(),
            dir = tmp.path().display(),
            no_interpreter = no_interpreter.display()
        ),
    );
    let s = sup.wait_for("FAILED_CONFIG, all five", |s| {
        [
            "missing",
            "not-in-path",
            "noexec",
            "a-dir",
            "no-interpreter",
        ]
        .iter()
        .all(|n| state(s, n) == "FAILED_CONFIG")
    });
    let why = |n: &str| {
        Sup::service(&s, n)["last_exit"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    };
    for n in ["missing", "not-in-path", "noexec"] {
        assert_eq!(Sup::service(&s, n)["restarts"], 0, "{n} was retried: {s}");
        assert!(why(n).contains(&format!("ballast reset {n}")), "{}", why(n));
    }
    assert!(
        why("missing").contains("command not found: /nonexistent/bot"),
        "{}",
        why("missing")
    );
    assert!(
        why("not-in-path")
            .contains("command not found: no-such-command-of-ballast (searched PATH)"),
        "{}",
        why("not-in-path")
    );
    assert!(
        why("noexec").contains(&format!("not executable: {}", script.display())),
        "{}",
        why("noexec")
    );
    assert!(why("a-dir").contains("is a directory"), "{}", why("a-dir"));
    assert!(
        why("no-interpreter").contains("interpreter") && why("no-interpreter").contains("#!"),
        "{}",
        why("no-interpreter")
    );
    // Never started again by itself: one attempt each in the log.
    let err = std::fs::read_to_string(tmp.path().join("supervisor.err")).unwrap();
    assert_eq!(
        err.matches("cannot start /nonexistent/bot").count(),
        1,
        "{err}"
    );
    assert!(sup.stop().0.success());
}

/// issue 10 item 1, the repro: `ballast reset engine` while the engine trades marked it
/// STOPPED with its pid still running; health went CRITICAL ("engine STOPPED") and the policy
/// DEFENSIVE_EXIT closed a position. Now the reset is refused and nothing follows from it.
#[test]
fn item_1_reset_engine_while_it_trades_is_refused_and_health_never_sees_it_stopped() {
    let tmp = tempfile::tempdir().unwrap();
    let sup = Sup::start(
        tmp.path(),
        "[feed]\nbars_per_second = 50\n\n[health]\ncycle_ms = 200\n",
    );
    let s = sup.wait_for("engine running", |s| state(s, "engine") == "RUNNING");
    let pid = Sup::service(&s, "engine")["pid"].as_i64().unwrap();
    let out = sup.cli(&["reset", "engine"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("engine is RUNNING, not FAILED") && err.contains("ballast restart engine"),
        "{err}"
    );
    // Three health cycles later: the same engine, RUNNING, and no issue says it stopped.
    let at = || -> String {
        let out = sup.cli(&["health", "--json"]);
        serde_json::from_slice::<Value>(&out.stdout)
            .map(|r| r["at"].to_string())
            .unwrap_or_default()
    };
    let mut seen = vec![at()];
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.len() < 4 {
        assert!(Instant::now() < deadline, "health does not cycle");
        let now = at();
        if seen.last() != Some(&now) {
            seen.push(now);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let s = sup.status().unwrap();
    assert_eq!(state(&s, "engine"), "RUNNING", "{s}");
    assert_eq!(Sup::service(&s, "engine")["pid"].as_i64(), Some(pid));
    let issues = s["health"]["issues"].to_string();
    assert!(!issues.contains("STOPPED"), "{issues}");
    let policy = s["health"]["policy"].as_str().unwrap_or("");
    assert!(
        !matches!(policy, "DEFENSIVE_EXIT" | "EMERGENCY_SHUTDOWN"),
        "policy {policy}: {s}"
    );
    assert!(sup.stop().0.success());
}

/// Part E, item 3 again: the exclusivity of a data directory must not depend on a file an
/// operator can delete. With `run/supervisor.lock` or `run/engine.lock` removed, a second
/// runtime (supervisor or standalone engine) is still refused — by the lock on the data
/// directory itself — naming the runtime that holds it; the running one is not disturbed (its
/// control socket still answers, no second engine writes its journal).
#[test]
fn part_e_a_deleted_lock_file_does_not_let_a_second_runtime_onto_the_data_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let sup = Sup::start(&tmp.path().join("a"), "[feed]\nbars_per_second = 50\n");
    sup.wait_for("engine running", |s| state(s, "engine") == "RUNNING");
    let data = sup.dir.join("data");
    std::fs::remove_file(data.join("run/supervisor.lock")).unwrap();
    std::fs::remove_file(data.join("run/engine.lock")).unwrap();
    let mut second = ballast();
    second
        .args(["run", "--data-dir"])
        .arg(&data)
        .arg("--config")
        .arg(sup.dir.join("ballast.toml"));
    let out = run_bounded(second, "a second supervisor (lock files removed)");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("its lock file was removed")
            && err.contains(&format!("pid {}", sup.child.id())),
        "{err}"
    );
    let mut engine = ballast();
    engine
        .args(["engine", "--standalone", "--max-bars", "5", "--data-dir"])
        .arg(&data)
        .arg("--config")
        .arg(sup.dir.join("ballast.toml"));
    let out = run_bounded(engine, "a standalone engine (lock files removed)");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("its lock file was removed")
            && err.contains(&format!("pid {}", sup.child.id())),
        "{err}"
    );
    // The first supervisor still answers on its socket, its engine untouched.
    let s = sup
        .status()
        .expect("the first supervisor's socket was removed");
    assert_eq!(
        s["supervisor_pid"].as_u64(),
        Some(u64::from(sup.child.id()))
    );
    assert_eq!(state(&s, "engine"), "RUNNING");
    assert!(sup.stop().0.success());

    // A standalone engine whose lock file is removed: neither `run` nor a second standalone
    // engine gets in.
    let data = tmp.path().join("b/data");
    let cfg = tmp.path().join("b/ballast.toml");
    std::fs::create_dir_all(tmp.path().join("b")).unwrap();
    std::fs::write(&cfg, "[feed]\nbars_per_second = 50\n").unwrap();
    let mut standalone = ballast()
        .args(["engine", "--standalone", "--data-dir"])
        .arg(&data)
        .arg("--config")
        .arg(&cfg)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait::file(
        &data.join("run/engine.heartbeat"),
        "the standalone engine's heartbeat",
    );
    std::fs::remove_file(data.join("run/engine.lock")).unwrap();
    for args in [
        &["run", "--data-dir"][..],
        &["engine", "--standalone", "--max-bars", "5", "--data-dir"][..],
    ] {
        let mut c = ballast();
        c.args(args).arg(&data).arg("--config").arg(&cfg);
        let out = run_bounded(c, "a second runtime beside a standalone engine");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(
            err.contains("its lock file was removed")
                && err.contains(&format!("pid {}", standalone.id())),
            "{args:?}: {err}"
        );
    }
    assert!(!data.join("run/supervisor.sock").exists());
    assert!(
        alive(standalone.id() as i32),
        "the standalone engine was disturbed"
    );
    process::sigterm(&standalone);
    assert!(standalone.wait().unwrap().success());
    // One engine wrote the journal: its seqs have no gap.
    let recs = engine_records(&data);
    for (i, w) in recs.windows(2).enumerate() {
        assert_eq!(
            w[1].0,
            w[0].0 + 1,
            "a seq gap at record {i}: two engines wrote"
        );
    }
}

/// Part E: a supervisor never unlinks a control socket it did not create — at its exit, the
/// socket at `run/supervisor.sock` is removed only if it is the one it bound.
#[test]
fn part_e_a_supervisor_never_unlinks_a_control_socket_it_did_not_create() {
    let tmp = tempfile::tempdir().unwrap();
    let sup = Sup::start(&tmp.path().join("a"), &sleeper("bot"));
    let sock = sup.dir.join("data/run/supervisor.sock");
    // Another socket put in its place (as another runtime would have bound it).
    let other = sup.dir.join("data/run/other.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&other).unwrap();
    std::fs::rename(&other, &sock).unwrap();
    assert!(sup.stop().0.success());
    assert!(
        sock.exists(),
        "the exiting supervisor removed a socket it did not create"
    );
}

/// Every file under `root` (not following links) with its permission bits.
fn file_modes(root: &std::path::Path) -> Vec<(std::path::PathBuf, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let m = e.path().symlink_metadata().unwrap();
            if m.is_dir() {
                stack.push(e.path());
            } else if m.is_file() {
                out.push((e.path(), m.permissions().mode() & 0o7777));
            }
        }
    }
    out
}

/// Part E, item 13 again: under `umask 000` every file Ballast created was 0666 (journals, logs,
/// health.json, engine.lock, the `ballast init` output), and a world-writable data directory
/// was accepted silently. Every file is now created 0600 whatever the umask, and a data
/// directory writable by group or others is warned about at `ballast run`'s start (naming
/// `chmod 700 DIR`) and reported by `ballast heal` as a finding (not dangerous).
#[test]
fn part_e_under_umask_000_every_file_is_private_and_an_open_data_directory_is_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let umask0 = |args: &str| {
        let mut c = std::process::Command::new("/bin/sh");
        c.arg("-c")
            .arg(format!("umask 000; exec \"$0\" {args}"))
            .arg(env!("CARGO_BIN_EXE_ballast"))
            .env_remove("BALLAST_HOME")
            .env_remove("BALLAST_CONFIG")
            .current_dir(tmp.path());
        c
    };
    let out = umask0("init ./ballast.toml").output().unwrap();
    common::process::assert_ok(&out);
    let init_mode = std::fs::metadata(tmp.path().join("ballast.toml"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(init_mode & 0o077, 0, "ballast init wrote {init_mode:o}");
    let dir = tmp.path().join("s");
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::write(dir.join("ballast.toml"), "[feed]\nbars_per_second = 200\n").unwrap();
    let child = umask0("run --data-dir ./s/data --config ./s/ballast.toml")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(dir.join("supervisor.err")).unwrap())
        .spawn()
        .unwrap();
    let sup = Sup {
        child,
        dir: dir.clone(),
    };
    sup.wait_for("engine running", |s| state(s, "engine") == "RUNNING");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !data.join("state/health.json").exists() || !data.join("run/engine.heartbeat").exists() {
        assert!(Instant::now() < deadline, "no health report or heartbeat");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(sup.stop().0.success());
    let err = std::fs::read_to_string(dir.join("supervisor.err")).unwrap();
    assert!(
        err.contains(&format!(
            "WARNING: the data directory {} is writable by its group and every other user (mode 0777)",
            data.display()
        )) && err.contains(&format!("`chmod 700 {}`", data.display())),
        "{err}"
    );
    let files = file_modes(&data);
    for name in [
        "engine.lock",
        "supervisor.lock",
        "engine.heartbeat",
        "health.json",
    ] {
        assert!(
            files
                .iter()
                .any(|(p, _)| p.file_name().is_some_and(|n| n == name)),
            "{name} was not written: {files:?}"
        );
    }
    assert!(
        files
            .iter()
            .any(|(p, _)| p.starts_with(data.join("journal/engine")))
    );
    assert!(files.iter().any(|(p, _)| p.starts_with(data.join("logs"))));
    let open: Vec<_> = files.iter().filter(|(_, m)| m & 0o077 != 0).collect();
    assert!(
        open.is_empty(),
        "files open to others under umask 000: {open:?}"
    );
    // `ballast heal` reports it as a finding, not a dangerous one.
    let out = ballast()
        .args(["heal", "--dry-run", "--data-dir"])
        .arg(&data)
        .arg("--config")
        .arg(dir.join("ballast.toml"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("is writable by its group and every other user (mode 0777)")
            && text.contains("chmod 700"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("0 dangerous"), "{text}");
    // A file left writable by every other user (by an earlier version under umask 000) is
    // healed: the write permission of others is taken away.
    let seg = files
        .iter()
        .find(|(p, _)| p.starts_with(data.join("journal/engine")))
        .unwrap()
        .0
        .clone();
    std::fs::set_permissions(&seg, std::fs::Permissions::from_mode(0o666)).unwrap();
    let out = ballast()
        .args(["heal", "--data-dir"])
        .arg(&data)
        .arg("--config")
        .arg(dir.join("ballast.toml"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("writable by its group and every other user (mode 0666): made 0644"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::metadata(&seg).unwrap().permissions().mode() & 0o777,
        0o644
    );
    // A Ballast directory left open (state/, run/) is made private the same way.
    std::fs::set_permissions(data.join("state"), std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = ballast()
        .args(["heal", "--data-dir"])
        .arg(&data)
        .arg("--config")
        .arg(dir.join("ballast.toml"))
        .output()
        .unwrap();
    assert!(out.status.success() || out.status.code() == Some(1));
    assert_eq!(
        std::fs::metadata(data.join("state"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o755,
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Part E, item 13: a data directory whose control socket path is longer than a socket
/// address holds (107 bytes) could not run ("path must be shorter than SUN_LEN"). The
/// supervisor binds, and every client reaches, the socket through a descriptor of its
/// directory: `run`, `status`, `kill` / `resume` and the engine all work.
#[test]
fn part_e_a_data_directory_with_a_long_path_runs_and_answers() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a".repeat(60)).join("b".repeat(60));
    let sock = dir.join("data/run/supervisor.sock");
    assert!(sock.as_os_str().len() > 150, "{}", sock.display());
    let sup = Sup::start(&dir, "[feed]\nbars_per_second = 50\n");
    let s = sup.wait_for("engine running", |s| state(s, "engine") == "RUNNING");
    assert_eq!(
        s["supervisor_pid"].as_u64(),
        Some(u64::from(sup.child.id()))
    );
    assert!(sock.exists());
    assert!(sup.cli(&["kill", "--reason", "drill"]).status.success());
    let out = sup.cli(&["resume"]);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let (status, _) = sup.stop();
    assert!(status.success());
    assert!(
        !sock.exists(),
        "the supervisor removes its own socket at exit"
    );
}

/// Part E: with `run/supervisor.sock` removed by hand, `ballast status` said only "no
/// supervisor answers" while the supervisor ran on, and an offline `ballast heal` would act
/// beside the supervisor's own healer. The tools name the runtime that holds the data
/// directory and say how to get the socket back; the offline heal is refused.
#[test]
fn part_e_a_removed_control_socket_names_the_running_supervisor_and_offline_heal_refuses() {
    let tmp = tempfile::tempdir().unwrap();
    let sup = Sup::start(&tmp.path().join("a"), &sleeper("bot"));
    sup.wait_for("bot running", |s| state(s, "bot") == "RUNNING");
    std::fs::remove_file(sup.dir.join("data/run/supervisor.sock")).unwrap();
    let out = sup.cli(&["status"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains(&format!("a Ballast runtime (pid {}: ", sup.child.id()))
            && err.contains("its control socket was removed or replaced")
            && err.contains(&format!("kill -TERM {}", sup.child.id())),
        "{err}"
    );
    let out = ballast()
        .args(["heal", "--data-dir"])
        .arg(sup.dir.join("data"))
        .arg("--config")
        .arg(sup.dir.join("ballast.toml"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("nothing was healed"), "{err}");
    assert!(alive(sup.child.id() as i32));
}
