//! The tools agree with a running engine (issue 10 items 9 and 20, found by a hostile tester):
//! `journal verify` and `journal dump` read a journal the engine is appending to while its
//! heartbeat and snapshots move on. Evidence that only grows (the heartbeat's durable seq,
//! the snapshots) is read before the journal, so the journal read afterwards is never
//! shorter than it; a record being appended at the very end while the engine holds
//! `run/engine.lock` is "being written", not a torn tail.
//!
//! Every wait polls a condition with a deadline; none sleeps a fixed time hoping.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::report::policy;
use common::{Sup, ballast, state};

/// A fast engine that snapshots often: the heartbeat, the snapshots and the journal all move
/// while the tools read them.
const BUSY: &str = "[feed]\nbars_per_second = 200\n\n[journal]\nsnapshot_every_records = 50\n";

fn data(dir: &Path) -> std::path::PathBuf {
    dir.join("data")
}

fn wait_seq(sup: &Sup, at_least: u64) {
    let hb = data(&sup.dir).join("run/engine.heartbeat");
    common::wait::until(
        Duration::from_secs(30),
        || {
            let seq = std::fs::read(&hb)
                .ok()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .and_then(|v| v["last_seq"].as_u64())
                .unwrap_or(0);
            if seq >= at_least { Ok(()) } else { Err(seq) }
        },
        |seq| format!("the engine did not reach seq {at_least} (heartbeat at {seq})"),
    );
}

#[test]
fn item_9_journal_verify_and_dump_on_a_running_engine_are_never_dangerous_or_healable() {
    let tmp = tempfile::tempdir().unwrap();
    let sup = Sup::start(tmp.path(), BUSY);
    sup.wait_for("the engine running", |s| state(s, "engine") == "RUNNING");
    wait_seq(&sup, 200);
    let dir = data(tmp.path());
    let mut failures = Vec::new();
    let mut running_said = false;
    for i in 0..12 {
        let verify = ballast()
            .args(["journal", "verify", "--data-dir"])
            .arg(&dir)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&verify.stdout).into_owned();
        running_said |= text.contains("the engine is running");
        if verify.status.code() != Some(0) {
            failures.push(format!(
                "verify #{i}: exit {:?}\n{text}{}",
                verify.status.code(),
                String::from_utf8_lossy(&verify.stderr)
            ));
        }
        let args: &[&str] = if i % 2 == 0 {
            &["journal", "dump", "--limit", "1", "--data-dir"]
        } else {
            &["journal", "dump", "--json", "--data-dir"]
        };
        let dump = ballast().args(args).arg(&dir).output().unwrap();
        if dump.status.code() != Some(0) {
            failures.push(format!(
                "dump #{i}: exit {:?}\n{}",
                dump.status.code(),
                String::from_utf8_lossy(&dump.stderr)
            ));
        }
    }
    // The supervisor's healer reads the running engine's files too (an operator's `heal`
    // reads them again at once): nothing there is damage, and nothing is healed under it.
    for i in 0..6 {
        let args: &[&str] = if i % 2 == 0 {
            &["heal", "--json"]
        } else {
            &["heal", "--dry-run", "--json"]
        };
        let out = sup.cli(args);
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        let engine_files: Vec<&serde_json::Value> = report["plan"]["actions"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|a| a["component"] == "journal" || a["component"] == "snapshots")
                    .collect()
            })
            .unwrap_or_default();
        if !out.status.success()
            || !engine_files.is_empty()
            || report["applied"] != serde_json::json!([])
        {
            failures.push(format!(
                "heal #{i}: exit {:?}: {report:#}\n{}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    let text = String::from_utf8_lossy(&sup.cli(&["heal", "--dry-run"]).stdout).into_owned();
    assert!(
        text.contains("0 dangerous") && text.contains("engine: running (pid"),
        "heal names the running engine rather than saying it may start: {text}"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n---\n"));
    assert!(
        running_said,
        "verify says the engine is running and writing the journal"
    );
    // The JSON report says so too, and the engine is still the one that was running.
    let out = ballast()
        .args(["journal", "verify", "--json", "--data-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["status"], "clean", "{report:#}");
    assert_eq!(report["engine_running"], true, "{report:#}");
    assert!(sup.stop().0.success());
}

/// The engine (a snapshot every 20 records) and a critical service that fails its budget at
/// once until `ok` exists.
fn critical_config(dir: &Path) -> String {
    format!(
        "{}\n[journal]\nsnapshot_every_records = 20\n{}",
        common::FAST_HEALTH,
        common::failing_critical_service(dir)
    )
}

/// Every issue's text: its symptom and, when known, a root cause that says something else.
fn repeated_causes(h: &serde_json::Value) -> Vec<String> {
    h["issues"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| {
            let cause = i["root_cause"].as_str()?;
            let symptoms = i["symptoms"].to_string();
            symptoms.contains(cause).then(|| format!("{i:#}"))
        })
        .collect()
}

type Damage = fn(&Path);

#[test]
fn item_2_after_a_paper_salvage_resume_leaves_emergency_shutdown_without_a_supervisor_restart() {
    let cases: [(&str, Damage); 2] = [
        ("the engine journal moved away", |data| {
            std::fs::rename(
                data.join("journal/engine"),
                data.join("engine-journal-elsewhere"),
            )
            .unwrap();
        }),
        ("a middle record corrupted", |data| {
            let dir = data.join("journal/engine");
            let mut segs: Vec<_> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            segs.sort();
            let seg = &segs[0];
            let mut bytes = std::fs::read(seg).unwrap();
            let lines: Vec<usize> = bytes
                .iter()
                .enumerate()
                .filter(|(_, b)| **b == b'\n')
                .map(|(i, _)| i)
                .collect();
            assert!(lines.len() > 10, "a journal with records");
            // A byte inside the fifth record.
            let at = lines[3] + 10;
            bytes[at] ^= 0x20;
            std::fs::write(seg, bytes).unwrap();
        }),
    ];
    for (name, damage) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let data = data(dir);
        // EMERGENCY_SHUTDOWN through the critical service, journaled by the engine, with
        // snapshots written.
        let sup = Sup::start(dir, &critical_config(dir));
        common::wait_health(&sup, "EMERGENCY_SHUTDOWN", |h| {
            policy(h) == "EMERGENCY_SHUTDOWN"
        });
        wait_seq(&sup, 60);
        assert!(sup.stop().0.success());
        std::fs::write(dir.join("ok"), b"").unwrap();
        damage(&data);
        let sup = Sup::start(dir, &critical_config(dir));
        sup.wait_for("the engine and the service running", |s| {
            state(s, "engine") == "RUNNING" && state(s, "risk-feed") == "RUNNING"
        });
        let log = data.join("logs/engine.log");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("salvage")
        {
            assert!(Instant::now() < deadline, "{name}: the engine salvaged");
            std::thread::sleep(Duration::from_millis(20));
        }
        // The salvaged files are what the healer now sees: nothing dangerous stands, and the
        // operator's release works (an order left unknown by the stop may take a moment).
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut last = String::new();
        loop {
            let out = sup.cli(&["resume"]);
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            if out.status.success() {
                assert!(text.contains("EMERGENCY_SHUTDOWN -> "), "{name}: {text}");
                break;
            }
            let heal = sup.cli(&["heal", "--dry-run"]);
            last = format!(
                "{text}\nheal --dry-run: {}\nhealth: {:#}",
                String::from_utf8_lossy(&heal.stdout),
                common::health(&sup).unwrap_or_default()
            );
            assert!(
                Instant::now() < deadline,
                "{name}: resume never succeeded after the salvage: {last}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = last;
        let h = common::wait_health(&sup, "the policy released", |h| {
            policy(h) != "EMERGENCY_SHUTDOWN"
        });
        let repeated = repeated_causes(&h);
        assert!(repeated.is_empty(), "{name}: {repeated:?}");
        assert!(sup.stop().0.success());
    }
}
