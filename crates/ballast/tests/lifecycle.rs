//! The module lifecycle over a real supervisor of real processes (issue 12 items 2 and 3):
//! `ballast disable` / `enable` of a service and of a check (DISABLED in status, health and
//! `state/health.json`, not counted, surviving a supervisor restart), the refusal of a
//! critical one, `on_failure = "disable"`, and a fallback service that covers a FAILED primary
//! and hands back once the primary runs for its min uptime after `ballast reset`.
//!
//! Every wait polls for a condition with a deadline; none sleeps a fixed time hoping.

use std::path::Path;

use serde_json::Value;

mod common;
use common::report::status as health_of;
use common::*;

/// Fast health cycles, no engine, nothing from the machine's load.
const BASE: &str = "[engine]\nenabled = false\n[health]\ncycle_ms = 100\ncritical_interval_secs = 1\ninterval_secs = 1\ncpu_degraded_pct = 100\nmemory_degraded_pct = 100\ndisk_free_min_pct = 0\n";

/// A service that sleeps until it is stopped, ready after 1 s.
fn sleeper(name: &str, extra: &str) -> String {
    format!(
        "
[[services]]
name = \"{name}\"
command = \"/bin/sh\"
args = [\"-c\", \"exec sleep 1000\"]
min_uptime_secs = 1
{extra}
"
    )
}

/// The ops journal's records as `kind body` lines.
fn ops(data: &Path) -> Vec<String> {
    let mut out = Vec::new();
    ballast_store::journal::scan(
        &ballast_store::RealStorage,
        &data.join("journal/ops"),
        &mut |r: &ballast_store::record::RecordRef<'_>| {
            out.push(format!("{} {}", r.kind, r.body.get()));
            Ok(())
        },
    )
    .unwrap();
    out
}

fn pid(s: &Value, name: &str) -> Option<i32> {
    Sup::service(s, name)["pid"].as_i64().map(|p| p as i32)
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn a_disabled_service_is_stopped_shown_disabled_not_counted_and_stays_so_across_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let config = format!(
        "{BASE}{}{}",
        sleeper("core", "kind = \"critical\""),
        sleeper("model", "")
    );
    let sup = Sup::start(tmp.path(), &config);
    let s = sup.wait_for("both running", |s| {
        state(s, "core") == "RUNNING" && state(s, "model") == "RUNNING"
    });
    let old = pid(&s, "model").unwrap();

    let out = sup.cli(&["disable", "model"]);
    common::process::assert_ok(&out);
    assert!(text(&out).contains("DISABLED"), "{}", text(&out));
    let s = sup.wait_for("model disabled and down", |s| {
        state(s, "model") == "DISABLED" && pid(s, "model").is_none()
    });
    assert!(!alive(old), "its process is stopped");
    assert_eq!(s["overall"], "HEALTHY", "not counted: {s}");
    let h = wait_health(&sup, "model DISABLED in health", |h| {
        health_of(h, "service:model") == "DISABLED"
    });
    assert_eq!(h["overall"], "HEALTHY", "{h:#}");
    assert_eq!(h["score"], 100, "not counted in the score: {h:#}");
    assert_eq!(h["counts"]["disabled"], 1, "{h:#}");
    let file = std::fs::read_to_string(tmp.path().join("data/state/health.json")).unwrap();
    assert!(file.contains("DISABLED"), "{file}");
    assert_eq!(
        s["health"]["disabled"][0], "service model: disabled by operator (by operator)",
        "{s}"
    );
    let out = sup.cli(&["status"]);
    let shown = text(&out);
    assert!(shown.contains("disabled: service model"), "{shown}");
    assert!(
        shown.lines().any(|l| l.starts_with("model")
            && l.contains("DISABLED")
            && l.contains("disabled by operator")),
        "{shown}"
    );

    // A critical service is never disabled: the refusal says what to do instead.
    let out = sup.cli(&["disable", "core"]);
    assert!(!out.status.success());
    let why = text(&out);
    assert!(
        why.contains("critical")
            && why.contains("ballast kill")
            && why.contains("ballast restart core"),
        "{why}"
    );
    assert_eq!(state(&sup.status().unwrap(), "core"), "RUNNING");

    // The operator's decision survives a supervisor restart: model is never started again.
    let (code, _) = sup.stop();
    assert!(code.success());
    let sup = Sup::start(tmp.path(), &config);
    let s = sup.wait_for("core running again", |s| state(s, "core") == "RUNNING");
    assert_eq!(state(&s, "model"), "DISABLED", "{s}");
    assert_eq!(pid(&s, "model"), None);
    let starts_before = ops(&tmp.path().join("data"))
        .iter()
        .filter(|r| r.starts_with("service.started ") && r.contains("\"model\""))
        .count();
    assert_eq!(starts_before, 1, "started only in the first run");

    // Enabled, it starts again.
    let out = sup.cli(&["enable", "model"]);
    common::process::assert_ok(&out);
    let s = sup.wait_for("model running again", |s| state(s, "model") == "RUNNING");
    assert!(pid(&s, "model").is_some_and(|p| p != old));
    wait_health(&sup, "model healthy", |h| {
        health_of(h, "service:model") == "HEALTHY"
    });
    let (code, _) = sup.stop();
    assert!(code.success());
    let journal = ops(&tmp.path().join("data"));
    assert!(
        journal.iter().any(|r| r.starts_with("module.disabled ")
            && r.contains("\"model\"")
            && r.contains("\"operator\"")),
        "{journal:#?}"
    );
    assert!(
        journal
            .iter()
            .any(|r| r.starts_with("module.enabled ") && r.contains("\"model\"")),
        "{journal:#?}"
    );
}

#[test]
fn a_disabled_check_is_not_run_and_not_counted_and_runs_again_when_enabled() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("model.bin");
    let config = format!(
        "{BASE}{}
[[checks]]
name = \"model\"
kind = \"files_present\"
paths = [\"{}\"]
degraded_min = 1
",
        sleeper("bot", ""),
        missing.display()
    );
    let sup = Sup::start(tmp.path(), &config);
    let h = wait_health(&sup, "the check CRITICAL", |h| {
        health_of(h, "model") == "CRITICAL"
    });
    assert_eq!(h["overall"], "DEGRADED", "{h:#}");
    let out = sup.cli(&["disable", "model"]);
    common::process::assert_ok(&out);
    let h = wait_health(&sup, "the check DISABLED", |h| {
        health_of(h, "model") == "DISABLED"
    });
    let shown = text(&sup.cli(&["status"]));
    assert!(shown.contains("disabled: check model"), "{shown}");
    assert!(
        h["issues"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["subsystem"] != "model"),
        "no issue of a disabled check: {h:#}"
    );
    assert_eq!(h["counts"]["disabled"], 1, "{h:#}");
    wait_health(&sup, "healthy without it", |h| h["overall"] == "HEALTHY");
    // A file appearing now is not seen: the check does not run.
    std::fs::write(&missing, b"m").unwrap();
    let out = sup.cli(&["health"]);
    assert!(text(&out).contains("DISABLED"), "{}", text(&out));
    std::fs::remove_file(&missing).unwrap();
    common::process::assert_ok(&sup.cli(&["enable", "model"]));
    wait_health(&sup, "the check runs again", |h| {
        health_of(h, "model") == "CRITICAL"
    });
    sup.stop();
}

#[test]
fn on_failure_disable_disables_a_supportive_service_and_a_check_with_an_alert() {
    let tmp = tempfile::tempdir().unwrap();
    let config = format!(
        "{BASE}{}
[[services]]
name = \"model\"
command = \"/bin/sh\"
args = [\"-c\", \"exit 1\"]
restart_delay_ms = 0
max_restarts = 1
on_failure = \"disable\"

[[checks]]
name = \"gpu\"
kind = \"files_present\"
paths = [\"{}\"]
on_failure = \"disable\"
",
        sleeper("bot", ""),
        tmp.path().join("no-gpu").display()
    );
    let sup = Sup::start(tmp.path(), &config);
    let s = sup.wait_for("model disabled", |s| state(s, "model") == "DISABLED");
    let why = Sup::service(&s, "model")["last_exit"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    assert!(why.contains("on_failure") && why.contains("FAILED"), "{s}");
    let h = wait_health(&sup, "both DISABLED", |h| {
        health_of(h, "service:model") == "DISABLED" && health_of(h, "gpu") == "DISABLED"
    });
    assert_eq!(h["counts"]["disabled"], 2, "{h:#}");
    let (code, _) = sup.stop();
    assert!(code.success());
    let journal = ops(&tmp.path().join("data"));
    for module in ["\"model\"", "\"gpu\""] {
        assert!(
            journal.iter().any(|r| r.starts_with("module.disabled ")
                && r.contains(module)
                && r.contains("\"on_failure\"")),
            "{module}: {journal:#?}"
        );
    }
    let log = std::fs::read_to_string(tmp.path().join("data/logs/supervisor.log")).unwrap();
    assert!(
        log.lines()
            .any(|l| l.contains("ALERT: service model: DISABLED by on_failure")),
        "{log}"
    );
    let disabled = std::fs::read_to_string(tmp.path().join("data/state/disabled.json")).unwrap();
    assert!(
        disabled.contains("model") && disabled.contains("gpu"),
        "{disabled}"
    );
}

#[test]
fn a_fallback_covers_a_failed_primary_and_hands_back_once_the_reset_primary_runs_its_min_uptime() {
    let tmp = tempfile::tempdir().unwrap();
    let flag = tmp.path().join("feed-ok");
    let config = format!(
        "{BASE}
[[services]]
name = \"feed\"
command = \"/bin/sh\"
args = [\"-c\", \"test -f {} && exec sleep 1000; exit 1\"]
restart_delay_ms = 0
max_restarts = 1
min_uptime_secs = 2
fallback = \"replay\"
{}",
        flag.display(),
        sleeper("replay", "")
    );
    let sup = Sup::start(tmp.path(), &config);
    let s = sup.wait_for("replay covering a FAILED feed", |s| {
        state(s, "feed") == "FAILED" && state(s, "replay") == "RUNNING"
    });
    assert_eq!(Sup::service(&s, "replay")["covering"], "feed", "{s}");
    assert_eq!(Sup::service(&s, "feed")["covered_by"], "replay", "{s}");
    let shown = text(&sup.cli(&["status"]));
    assert!(shown.contains("fallback covering feed"), "{shown}");
    let replay = pid(&s, "replay").unwrap();
    let h = wait_health(&sup, "switch_to_backup advised", |h| {
        h["recommendations"]
            .as_array()
            .is_some_and(|r| r.iter().any(|r| r["action"] == "switch_to_backup"))
    });
    let rec = h["recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["action"] == "switch_to_backup")
        .unwrap()
        .clone();
    assert_eq!(rec["state"], "AUTO", "{rec:#}");
    assert!(
        rec["expected"].as_str().unwrap().contains("replay"),
        "{rec:#}"
    );

    std::fs::write(&flag, b"").unwrap();
    common::process::assert_ok(&sup.cli(&["reset", "feed"]));
    let s = sup.wait_for("replay standing by again", |s| {
        state(s, "feed") == "RUNNING" && state(s, "replay") == "STANDBY"
    });
    assert_eq!(pid(&s, "replay"), None);
    wait::until(
        std::time::Duration::from_secs(30),
        || (!alive(replay)).then_some(()).ok_or(()),
        |()| "the fallback's process is stopped".to_owned(),
    );
    let (code, _) = sup.stop();
    assert!(code.success());
    // Journaled both ways; the hand-back comes only after the primary's min uptime.
    let at = |kind: &str, text: &str| {
        let mut found = Vec::new();
        ballast_store::journal::scan(
            &ballast_store::RealStorage,
            &tmp.path().join("data/journal/ops"),
            &mut |r: &ballast_store::record::RecordRef<'_>| {
                if r.kind == kind && r.body.get().contains(text) {
                    found.push(r.ts);
                }
                Ok(())
            },
        )
        .unwrap();
        found
    };
    assert_eq!(at("service.fallback_engaged", "\"replay\"").len(), 1);
    let released = at("service.fallback_released", "\"replay\"");
    assert_eq!(released.len(), 1);
    let feed_started = at("service.started", "\"feed\"");
    let last_start = *feed_started.last().unwrap();
    // The writer thread stamps records in bursts a few milliseconds after their events
    // (ops.rs): the start's stamp may be that much late, so a little slack, far below the
    // 2 s that an early hand-back would miss by.
    assert!(
        released[0].ms_since(last_start) >= 1_950,
        "released {} ms after the primary's start",
        released[0].ms_since(last_start)
    );
}

#[test]
fn a_damaged_disabled_list_is_reported_and_nothing_is_taken_as_disabled() {
    let tmp = tempfile::tempdir().unwrap();
    let state_dir = tmp.path().join("data/state");
    std::fs::create_dir_all(&state_dir).unwrap();
    std::fs::write(
        state_dir.join("disabled.json"),
        b"{\"modules\": [{\"name\": 7}]}",
    )
    .unwrap();
    let sup = Sup::start(tmp.path(), &format!("{BASE}{}", sleeper("model", "")));
    sup.wait_for("model running", |s| state(s, "model") == "RUNNING");
    let (code, _) = sup.stop();
    assert!(code.success());
    let journal = ops(&tmp.path().join("data"));
    assert!(
        journal
            .iter()
            .any(|r| r.starts_with("module.state_unreadable ") && r.contains("disabled.json")),
        "{journal:#?}"
    );
    let log = std::fs::read_to_string(tmp.path().join("data/logs/supervisor.log")).unwrap();
    assert!(
        log.lines().any(|l| l.contains("CRITICAL")
            && l.contains("disabled.json")
            && l.contains("every service and check starts enabled")),
        "{log}"
    );
}

/// A hand-edited list naming a critical service and a critical check disables neither: both
/// run, each is refused with an ALERT, shown in `status` and the health (an issue), and
/// dropped from the file; a supportive one listed twice is taken once.
#[test]
fn a_hand_edited_list_naming_critical_modules_is_refused_reported_and_dropped() {
    let tmp = tempfile::tempdir().unwrap();
    let state_dir = tmp.path().join("data/state");
    std::fs::create_dir_all(&state_dir).unwrap();
    let entry = |name: &str, kind: &str| {
        format!(
            "{{\"name\": \"{name}\", \"kind\": \"{kind}\", \"reason\": \"hand\", \"by\": \"operator\", \"at\": \"2026-01-01T00:00:00Z\"}}"
        )
    };
    std::fs::write(
        state_dir.join("disabled.json"),
        format!(
            "{{\"version\": 1, \"modules\": [{}, {}, {}, {}]}}",
            entry("core", "service"),
            entry("db", "check"),
            entry("model", "service"),
            entry("model", "service")
        ),
    )
    .unwrap();
    let config = format!(
        "{BASE}{}{}[[checks]]\nname = \"db\"\nkind = \"files_present\"\npaths = [\"{}\"]\ncritical = true\n",
        sleeper("core", "kind = \"critical\""),
        sleeper("model", ""),
        tmp.path().display()
    );
    let sup = Sup::start(tmp.path(), &config);
    let s = sup.wait_for("core running, model disabled", |s| {
        state(s, "core") == "RUNNING" && state(s, "model") == "DISABLED"
    });
    let problems = s["health"]["disabled_problems"].to_string();
    for want in [
        "service core",
        "check db",
        "never disabled",
        "service model more than once",
    ] {
        assert!(problems.contains(want), "{want} in {s:#}");
    }
    let shown = text(&sup.cli(&["status"]));
    assert!(shown.contains("disabled list: "), "{shown}");
    let h = wait_health(&sup, "the list's problem in the health", |h| {
        health_of(h, "heal") == "DEGRADED" && health_of(h, "db") == "HEALTHY"
    });
    assert!(
        h.to_string().contains("problem(s) of the disabled list"),
        "{h:#}"
    );
    let file = std::fs::read_to_string(state_dir.join("disabled.json")).unwrap();
    assert!(
        !file.contains("\"core\"")
            && !file.contains("\"db\"")
            && file.matches("\"model\"").count() == 1,
        "dropped from the file: {file}"
    );
    let (code, _) = sup.stop();
    assert!(code.success());
    let journal = ops(&tmp.path().join("data"));
    let refused: Vec<&String> = journal
        .iter()
        .filter(|r| r.starts_with("module.disable_refused "))
        .collect();
    assert_eq!(refused.len(), 2, "{journal:#?}");
}

/// A newer list is never overwritten: a disable is refused saying why, the file is as it
/// was; `[]` is said in words and copied to quarantine before the next disable rewrites it.
#[test]
fn a_newer_list_is_never_overwritten_and_a_damaged_one_is_quarantined_first() {
    let tmp = tempfile::tempdir().unwrap();
    let state_dir = tmp.path().join("data/state");
    std::fs::create_dir_all(&state_dir).unwrap();
    let newer = b"{\"version\": 9, \"modules\": []}";
    std::fs::write(state_dir.join("disabled.json"), newer).unwrap();
    let config = format!("{BASE}{}", sleeper("model", ""));
    let sup = Sup::start(tmp.path(), &config);
    let s = sup.wait_for("model running", |s| state(s, "model") == "RUNNING");
    assert!(
        s["health"]["disabled_problems"]
            .to_string()
            .contains("version 9"),
        "{s:#}"
    );
    let out = sup.cli(&["disable", "model"]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("version 9") && text(&out).contains("not overwritten"),
        "{}",
        text(&out)
    );
    assert_eq!(
        std::fs::read(state_dir.join("disabled.json")).unwrap(),
        newer
    );
    let (code, _) = sup.stop();
    assert!(code.success());

    std::fs::write(state_dir.join("disabled.json"), b"[]").unwrap();
    let sup = Sup::start(tmp.path(), &config);
    let s = sup.wait_for("model running", |s| state(s, "model") == "RUNNING");
    let problems = s["health"]["disabled_problems"].to_string();
    assert!(
        problems.contains("top level is a list")
            && !problems.contains("struct")
            && problems.contains("quarantine/state/disabled.json.corrupt."),
        "{s:#}"
    );
    common::process::assert_ok(&sup.cli(&["disable", "model"]));
    let q: Vec<Vec<u8>> = std::fs::read_dir(tmp.path().join("data/quarantine/state"))
        .unwrap()
        .flatten()
        .map(|e| std::fs::read(e.path()).unwrap())
        .collect();
    assert_eq!(q, vec![b"[]".to_vec()], "the damaged file is kept");
    let file = std::fs::read_to_string(state_dir.join("disabled.json")).unwrap();
    assert!(file.contains("\"model\""), "{file}");
    let left: Vec<_> = std::fs::read_dir(&state_dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    let (code, _) = sup.stop();
    assert!(code.success());
}

/// `enable` while the disable is still stopping a process that ignores its stop signal:
/// the service starts again once that process is reaped (after its SIGKILL), as `restart`.
#[test]
fn an_enable_while_a_stubborn_process_is_still_stopping_starts_it_again_once_reaped() {
    let tmp = tempfile::tempdir().unwrap();
    let config = format!(
        "{BASE}
[[services]]
name = \"model\"
command = \"/bin/sh\"
args = [\"-c\", \"trap '' TERM; while true; do sleep 1; done\"]
min_uptime_secs = 1
stop_timeout_secs = 2
"
    );
    let sup = Sup::start(tmp.path(), &config);
    let s = sup.wait_for("model running", |s| state(s, "model") == "RUNNING");
    let old = pid(&s, "model").unwrap();
    common::process::assert_ok(&sup.cli(&["disable", "model"]));
    let out = sup.cli(&["enable", "model"]);
    common::process::assert_ok(&out);
    assert!(alive(old), "still stopping when enabled");
    assert!(text(&out).contains("once it is down"), "{}", text(&out));
    let s = sup.wait_for("model running again with a new process", |s| {
        state(s, "model") == "RUNNING" && pid(s, "model").is_some_and(|p| p != old)
    });
    assert!(!alive(old), "{s}");
    let (code, _) = sup.stop();
    assert!(code.success());
}

/// With its fallback disabled, a FAILED primary is said uncovered (nothing claims to be
/// started), and the fallback is never started.
#[test]
fn a_failed_primary_whose_fallback_is_disabled_is_said_uncovered_and_nothing_starts() {
    let tmp = tempfile::tempdir().unwrap();
    let flag = tmp.path().join("feed-fails");
    let config = format!(
        "{BASE}
[[services]]
name = \"feed\"
command = \"/bin/sh\"
args = [\"-c\", \"while ! test -f {}; do sleep 0.05; done; exit 1\"]
restart_delay_ms = 0
max_restarts = 1
fallback = \"replay\"
{}",
        flag.display(),
        sleeper("replay", "")
    );
    let sup = Sup::start(tmp.path(), &config);
    sup.wait_for("feed up", |s| pid(s, "feed").is_some());
    common::process::assert_ok(&sup.cli(&["disable", "replay"]));
    std::fs::write(&flag, b"").unwrap();
    let s = sup.wait_for("feed FAILED", |s| state(s, "feed") == "FAILED");
    assert!(Sup::service(&s, "feed")["covered_by"].is_null(), "{s}");
    assert_eq!(state(&s, "replay"), "DISABLED");
    let (code, _) = sup.stop();
    assert!(code.success());
    let journal = ops(&tmp.path().join("data"));
    assert!(
        !journal
            .iter()
            .any(|r| r.starts_with("service.fallback_engaged ")),
        "{journal:#?}"
    );
    assert!(
        journal
            .iter()
            .any(|r| r.starts_with("service.uncovered ") && r.contains("DISABLED")),
        "{journal:#?}"
    );
    let log = std::fs::read_to_string(tmp.path().join("data/logs/supervisor.log")).unwrap();
    assert!(
        log.lines().any(|l| l.contains("ALERT: feed: uncovered")),
        "{log}"
    );
    assert!(!log.contains("is started and covers"), "{log}");
}

/// A `[[checks]]` command that takes its full 60 s timeout does not stall the start: the
/// control socket answers and the services start at once; the check is UNKNOWN until the
/// monitor's thread has its first answer.
#[test]
fn a_slow_check_command_does_not_stall_the_supervisors_start() {
    let tmp = tempfile::tempdir().unwrap();
    let config = format!(
        "{BASE}{}[[checks]]\nname = \"slow\"\nkind = \"command\"\ncommand = \"/bin/sleep\"\nargs = [\"60\"]\ntimeout_ms = 60000\n",
        sleeper("model", "")
    );
    let began = std::time::Instant::now();
    let sup = Sup::start(tmp.path(), &config);
    sup.wait_for("model started", |s| pid(s, "model").is_some());
    assert!(
        began.elapsed() < std::time::Duration::from_secs(15),
        "the start took {:?}",
        began.elapsed()
    );
    let h = wait_health(&sup, "a report", |h| !health_of(h, "slow").is_empty());
    assert_eq!(health_of(&h, "slow"), "UNKNOWN", "{h:#}");
    let (code, _) = sup.stop();
    assert!(code.success());
}
