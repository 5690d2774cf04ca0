//! `ballast reload` against a hostile tester (issue 12, items 1 and 4, hardened): no secret in
//! anything a reload prints or keeps (the diff, the errors, the journal, the health report, the
//! log); a file read while it was being written, or an empty one, is never applied; a changed
//! fallback role restarts both services; a lowered health cycle takes effect at once; a
//! `--config` symlink's target is watched. Real supervisors of real processes on temp dirs;
//! every wait polls a condition with a deadline.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

mod common;
use common::process::text;
use common::*;

const NO_ENGINE: &str = "[engine]\nenabled = false\n";

fn sleeper(name: &str, secs: u32) -> String {
    format!(
        "\n[[services]]\nname = \"{name}\"\ncommand = \"/bin/sh\"\nargs = [\"-c\", \"exec sleep {secs}\"]\nmin_uptime_secs = 0\n"
    )
}

fn write_config(sup: &Sup, text: &str) {
    let tmp = sup.dir.join(".ballast.toml.new");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, sup.dir.join("ballast.toml")).unwrap();
}

/// Every file under `dir` (and the supervisor's stderr) whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &str, found: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        // The engine's copy of the configuration in force: as private as ballast.toml itself
        // (0600 in run/, 0700), read by the engine, never shown.
        if p.ends_with("run/engine-config.json") {
            continue;
        }
        if p.is_dir() {
            files_containing(&p, needle, found);
        } else if std::fs::read(&p)
            .is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
        {
            found.push(p.display().to_string());
        }
    }
}

fn assert_nowhere(sup: &Sup, needles: &[&str]) {
    for n in needles {
        let mut found = Vec::new();
        files_containing(&sup.dir.join("data"), n, &mut found);
        let err = std::fs::read_to_string(sup.dir.join("supervisor.err")).unwrap_or_default();
        assert!(found.is_empty(), "{n} kept in {found:?}");
        assert!(!err.contains(n), "{n} in the supervisor's log: {err}");
    }
}

/// The ops journal's `config.*` events, once `n` of them are there.
fn wait_reload_events(data: &Path, n: usize) -> Vec<(String, Value)> {
    wait::until(
        Duration::from_secs(30),
        || {
            let mut out = Vec::new();
            let _ = ballast_store::journal::scan(
                &ballast_store::RealStorage,
                &data.join("journal/ops"),
                &mut |r: &ballast_store::record::RecordRef<'_>| {
                    if r.kind.starts_with("config.") {
                        out.push((
                            r.kind.to_string(),
                            serde_json::from_str(r.body.get()).unwrap_or(Value::Null),
                        ));
                    }
                    Ok(())
                },
            );
            if out.len() >= n { Ok(out) } else { Err(out) }
        },
        |r| format!("{n} reload event(s) expected in the ops journal, found {r:?}"),
    )
}

const SECRET_SERVICE: &str = "
[[services]]
name = \"bot\"
command = \"/bin/sh\"
args = [\"-c\", \"exec sleep 1001\", \"--pass\", \"hunter2\", \"-k\", \"x\"]
min_uptime_secs = 0
env = { DB_PASS = \"s3cr3t-a\", BROKER_KEY = \"s3cr3t-b\", AUTH = \"Bearer s3cr3t-c\", PGPWD = \"s3cr3t-d\", LEVEL = \"info\" }
";
const SECRETS: [&str; 5] = ["hunter2", "s3cr3t-a", "s3cr3t-b", "s3cr3t-c", "s3cr3t-d"];

#[test]
fn a_reload_never_prints_or_journals_a_secret_config_show_masks() {
    let tmp = tempfile::tempdir().unwrap();
    let sup = Sup::start(tmp.path(), &format!("{NO_ENGINE}{}", sleeper("bot", 1000)));
    sup.wait_for("running", |s| state(s, "bot") == "RUNNING");
    write_config(&sup, &format!("{NO_ENGINE}{SECRET_SERVICE}"));
    let shown = ballast()
        .args(["config", "show", "--config"])
        .arg(sup.dir.join("ballast.toml"))
        .output()
        .unwrap();
    for args in [
        vec!["reload", "--dry-run"],
        vec!["reload", "--dry-run", "--json"],
        vec!["reload", "--json"],
    ] {
        let out = sup.cli(&args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(said.contains("LEVEL"), "{args:?} shows the diff: {said}");
        for s in SECRETS {
            assert!(!said.contains(s), "{args:?} printed {s}: {said}");
        }
    }
    let shown = text(&shown.stdout);
    for s in SECRETS {
        assert!(!shown.contains(s), "config show printed {s}: {shown}");
    }
    let events = wait_reload_events(&tmp.path().join("data"), 1);
    assert_eq!(events[0].0, "config.reloaded", "{events:?}");
    assert_nowhere(&sup, &SECRETS);
}

#[test]
fn a_refused_reload_never_repeats_a_url_password_anywhere() {
    let tmp = tempfile::tempdir().unwrap();
    let first = format!("{NO_ENGINE}{FAST_HEALTH}{}", sleeper("bot", 1000));
    let sup = Sup::start(tmp.path(), &first);
    sup.wait_for("running", |s| state(s, "bot") == "RUNNING");
    let bad = format!(
        "{first}readiness = \"http\"\nreadiness_url = \"ftp://admin:TOPSECRET2@127.0.0.1:1/\"\n"
    );
    write_config(&sup, &bad);
    let h = wait_health(&sup, "the invalid file's issue", |h| {
        h["issues"]
            .as_array()
            .is_some_and(|is| is.iter().any(|i| i["id"] == "configuration/file"))
    });
    assert!(
        h.to_string().contains("admin:***@"),
        "the error still says what: {h}"
    );
    let out = sup.cli(&["reload"]);
    assert_eq!(out.status.code(), Some(78), "{}", text(&out.stderr));
    assert!(
        !text(&out.stderr).contains("TOPSECRET2"),
        "{}",
        text(&out.stderr)
    );
    let check = ballast()
        .args(["check", "--config"])
        .arg(sup.dir.join("ballast.toml"))
        .output()
        .unwrap();
    let said = format!("{}{}", text(&check.stdout), text(&check.stderr));
    assert!(said.contains("readiness_url"), "{said}");
    assert!(!said.contains("TOPSECRET2"), "{said}");
    let status = sup.cli(&["status"]);
    assert!(!text(&status.stdout).contains("TOPSECRET2"));
    wait_reload_events(&tmp.path().join("data"), 1);
    assert_nowhere(&sup, &["TOPSECRET2"]);
}

fn pid(s: &Value, name: &str) -> Option<i64> {
    Sup::service(s, name)["pid"].as_i64()
}

#[test]
fn an_empty_file_is_never_applied_by_reload_or_sighup() {
    let tmp = tempfile::tempdir().unwrap();
    let sup = Sup::start(tmp.path(), &format!("{NO_ENGINE}{}", sleeper("bot", 1000)));
    let before = sup.wait_for("running", |s| state(s, "bot") == "RUNNING");
    // `cp` or an editor truncating in place: the reload sees zero bytes.
    std::fs::write(sup.dir.join("ballast.toml"), "").unwrap();
    let out = sup.cli(&["reload"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(
        err.contains("a reload never applies an empty configuration"),
        "{err}"
    );
    // Only comments and blanks: the same, by SIGHUP.
    std::fs::write(sup.dir.join("ballast.toml"), "# being rewritten\n\n  \n").unwrap();
    rustix::process::kill_process(
        rustix::process::Pid::from_child(&sup.child),
        rustix::process::Signal::HUP,
    )
    .unwrap();
    let events = wait_reload_events(&tmp.path().join("data"), 2);
    for (kind, body) in &events {
        assert_eq!(kind, "config.reload_refused", "{events:?}");
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.contains("never applies an empty configuration")),
            "{body}"
        );
    }
    assert_eq!(events[1].1["by"], "SIGHUP");
    let after = sup.status().unwrap();
    assert_eq!(state(&after, "bot"), "RUNNING", "{after}");
    assert_eq!(
        pid(&after, "bot"),
        pid(&before, "bot"),
        "nothing was stopped"
    );
    assert!(
        after["loaded"]["last_reload"]
            .as_str()
            .is_some_and(|l| l.contains("refused") || l.contains("empty")),
        "{after}"
    );
}

#[test]
fn a_lowered_health_cycle_takes_effect_at_once_not_after_the_old_wait() {
    let tmp = tempfile::tempdir().unwrap();
    let slow = FAST_HEALTH.replace("cycle_ms = 100", "cycle_ms = 60000");
    let sup = Sup::start(
        tmp.path(),
        &format!("{NO_ENGINE}{slow}{}", sleeper("bot", 1000)),
    );
    let first = wait_health(&sup, "the first report", |h| h["at"].is_string());
    write_config(
        &sup,
        &format!(
            "{NO_ENGINE}{}{}",
            FAST_HEALTH.replace("cycle_ms = 100", "cycle_ms = 200"),
            sleeper("bot", 1000)
        ),
    );
    let out = sup.cli(&["reload"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The old code slept out its 60 s first (the wait below gives up after 30 s).
    let second = wait_health(&sup, "a report at the new pace", |h| h["at"] != first["at"]);
    wait_health(&sup, "another one", |h| {
        h["at"] != first["at"] && h["at"] != second["at"]
    });
}

/// The `reload_config` recommendations waiting, by id.
fn reload_recs(h: &Value) -> Vec<String> {
    h["recommendations"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .filter(|r| r["action"] == "reload_config" && r["state"] == "PENDING")
                .filter_map(|r| r["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn hash_of(path: &Path) -> String {
    format!("{:08x}", crc32c::crc32c(&std::fs::read(path).unwrap()))
}

/// An editor's save of `path`: a new file renamed over it.
fn save(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[test]
fn a_config_symlink_s_target_is_watched_and_a_replaced_link_is_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let (links, real, other) = (
        tmp.path().join("etc"),
        tmp.path().join("real"),
        tmp.path().join("other"),
    );
    for d in [&links, &real, &other] {
        std::fs::create_dir_all(d).unwrap();
    }
    let base = format!("{NO_ENGINE}{FAST_HEALTH}{}", sleeper("bot", 1000));
    std::fs::write(real.join("ballast.toml"), &base).unwrap();
    let link = links.join("ballast.toml");
    std::os::unix::fs::symlink(real.join("ballast.toml"), &link).unwrap();
    let child = ballast()
        .args(["run", "--data-dir"])
        .arg(tmp.path().join("data"))
        .arg("--config")
        .arg(&link)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(tmp.path().join("supervisor.err")).unwrap())
        .spawn()
        .unwrap();
    let sup = Sup {
        child,
        dir: tmp.path().to_owned(),
    };
    sup.wait_for("running", |s| state(s, "bot") == "RUNNING");
    // The target edited where it lives (not the link's directory): noticed.
    let target = real.join("ballast.toml");
    save(
        &target,
        &format!("{NO_ENGINE}{FAST_HEALTH}{}", sleeper("bot", 1001)),
    );
    let want = hash_of(&target);
    wait_health(&sup, "the target's edit recommended", |h| {
        reload_recs(h).iter().any(|id| id.contains(&want))
    });
    // The link replaced to point at another directory, whose file is then edited: followed.
    let moved = other.join("ballast.toml");
    std::fs::write(
        &moved,
        format!("{NO_ENGINE}{FAST_HEALTH}{}", sleeper("bot", 1002)),
    )
    .unwrap();
    let new_link = links.join("ballast.toml.new");
    std::os::unix::fs::symlink(&moved, &new_link).unwrap();
    std::fs::rename(&new_link, &link).unwrap();
    let want = hash_of(&moved);
    wait_health(&sup, "the relinked file recommended", |h| {
        reload_recs(h).iter().any(|id| id.contains(&want))
    });
    save(
        &moved,
        &format!("{NO_ENGINE}{FAST_HEALTH}{}", sleeper("bot", 1003)),
    );
    let want = hash_of(&moved);
    wait_health(&sup, "the new target's edit recommended", |h| {
        reload_recs(h).iter().any(|id| id.contains(&want))
    });
}

/// bot (its fallback `fallback`), backoff and spare, all supportive sleepers.
fn three(fallback: &str) -> String {
    let bot = format!("{}fallback = \"{fallback}\"\n", sleeper("bot", 1000));
    format!(
        "{NO_ENGINE}{bot}{}{}",
        sleeper("backoff", 1000),
        sleeper("spare", 1000)
    )
}

#[test]
fn a_reload_that_moves_a_fallback_restarts_both_roles_over_real_processes() {
    let tmp = tempfile::tempdir().unwrap();
    let sup = Sup::start(tmp.path(), &three("backoff"));
    let s = sup.wait_for("backoff standing by", |s| {
        state(s, "bot") == "RUNNING"
            && state(s, "spare") == "RUNNING"
            && state(s, "backoff") == "STANDBY"
    });
    let spare = pid(&s, "spare").unwrap();
    write_config(&sup, &three("spare"));
    let out = sup.cli(&["reload", "--dry-run"]);
    let said = text(&out.stdout);
    for s in ["backoff", "bot", "spare"] {
        assert!(
            said.contains(&format!("restart service {s} (only it)")),
            "the plan names every role that changes: {said}"
        );
    }
    let out = sup.cli(&["reload"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = sup.wait_for("spare standing by, backoff a plain service", |s| {
        state(s, "bot") == "RUNNING"
            && state(s, "backoff") == "RUNNING"
            && state(s, "spare") == "STANDBY"
    });
    assert_eq!(pid(&s, "spare"), None);
    wait::until(
        Duration::from_secs(30),
        || (!alive(spare as i32)).then_some(()).ok_or(()),
        |()| "the new standby's process is stopped".to_owned(),
    );
    // And back: the former fallback does not keep running beside its running primary.
    let backoff = pid(&s, "backoff").unwrap();
    write_config(&sup, &three("backoff"));
    let out = sup.cli(&["reload"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    sup.wait_for("backoff standing by again", |s| {
        state(s, "bot") == "RUNNING"
            && state(s, "spare") == "RUNNING"
            && state(s, "backoff") == "STANDBY"
    });
    wait::until(
        Duration::from_secs(30),
        || (!alive(backoff as i32)).then_some(()).ok_or(()),
        |()| "the former fallback's process is stopped".to_owned(),
    );
}
