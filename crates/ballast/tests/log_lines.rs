//! One event, one line (issue 13, found by a hostile tester): a control character from outside
//! — a kill reason in a hand-written `KILL_SWITCH`, a service's output, a JSON log message —
//! never forges a second line, nor writes a NUL or an escape sequence, in the engine's text
//! lines, a service's log in `logs/`, or `ballast logs`. Real processes on temp dirs.

use std::time::Duration;

mod common;
use common::process::text;
use common::*;

const FORGED: &str = "2026-12-01T18:21:00.000Z engine: FORGED kill switch RELEASED by admin";

/// No line begins with the forged text, and none holds a raw NUL, CR or ESC.
fn assert_one_line_each(what: &str, said: &str) {
    for line in said.lines() {
        assert!(
            !line.starts_with("2026-12-01T18:21:00.000Z"),
            "{what}: a forged line: {said}"
        );
    }
    for c in ['\0', '\r', '\u{1b}'] {
        assert!(!said.contains(c), "{what}: a raw {c:?}: {said:?}");
    }
}

#[test]
fn a_kill_reason_with_a_line_break_in_a_hand_written_file_stays_on_the_engine_s_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("ballast.toml");
    std::fs::write(&cfg, "[feed]\nbars_per_second = 0\n").unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let reason = format!("x\n{FORGED}\u{0}\r\u{1b}[2J");
    let file = serde_json::json!({"version": 1, "reason": reason, "flatten": false, "by": "hand"});
    std::fs::write(data.join("KILL_SWITCH"), format!("{file}\n")).unwrap();
    let out = standalone_engine(&data, &cfg, 5);
    let err = text(&out.stderr);
    assert!(err.contains("FORGED"), "the engine says the reason: {err}");
    assert_one_line_each("the engine's stderr", &err);
    let logs = ballast()
        .args(["logs", "engine", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    let said = text(&logs.stdout);
    assert!(said.contains("FORGED"), "ballast logs engine: {said}");
    assert_one_line_each("ballast logs engine", &said);
}

#[test]
fn a_service_s_control_characters_are_escaped_in_its_log_and_in_ballast_logs() {
    let tmp = tempfile::tempdir().unwrap();
    let config = "[engine]\nenabled = false\n\n[[services]]\nname = \"noisy\"\ncommand = \"/bin/sh\"\nargs = [\"-c\", \"printf 'noisy: a\\\\rFORGED-CR\\\\000NUL\\\\033[2J\\\\tend\\\\n'; exec sleep 600\"]\nmin_uptime_secs = 0\n";
    let sup = Sup::start(tmp.path(), config);
    let log = tmp.path().join("data/logs/noisy.log");
    let kept = wait::until(
        Duration::from_secs(30),
        || {
            let b = std::fs::read(&log).unwrap_or_default();
            if b.ends_with(b"end\n") { Ok(b) } else { Err(b) }
        },
        |b| format!("logs/noisy.log: {:?}", String::from_utf8_lossy(&b)),
    );
    assert_eq!(
        String::from_utf8_lossy(&kept),
        "noisy: a\\rFORGED-CR\\x00NUL\\x1b[2J\tend\n"
    );
    let said = text(&sup.cli(&["logs", "noisy"]).stdout);
    assert!(said.contains("FORGED-CR"), "{said}");
    assert_one_line_each("ballast logs noisy", &said);
    sup.stop();
}

#[test]
fn ballast_logs_shows_a_json_message_with_a_line_break_or_nul_as_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("data/logs");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::create_dir_all(tmp.path().join("data/journal")).unwrap();
    let line = serde_json::json!({
        "timestamp": "2026-12-01T18:20:00.000Z", "level": "INFO", "target": "ballast::supervisor",
        "message": format!("kill switch engaged: x\n{FORGED}\u{0}"),
    });
    std::fs::write(logs.join("supervisor.log"), format!("{line}\n")).unwrap();
    let out = ballast()
        .args(["logs", "supervisor", "--data-dir"])
        .arg(tmp.path().join("data"))
        .output()
        .unwrap();
    let said = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(said.contains("FORGED") && said.contains("x\\n"), "{said}");
    assert_one_line_each("ballast logs supervisor", &said);
}
