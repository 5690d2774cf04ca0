//! `ballast reload` and SIGHUP over a real supervisor of real processes (issue 12, item 1): a
//! changed service restarts alone, a new one starts, a removed one stops; an invalid file
//! changes nothing and names every error at its line:col (exit 78); a key that cannot change
//! live refuses the whole plan by name; `--dry-run` changes nothing; SIGHUP reloads; `status`
//! shows the file's hash and when it was loaded; each reload is one ops-journal event.
//!
//! Every wait polls for a condition with a deadline; none sleeps a fixed time hoping.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

mod common;
use common::process::text;
use common::*;

const NO_ENGINE: &str = "[engine]\nenabled = false\n";

/// A `[[services]]` entry that sleeps `secs` until it is stopped (`secs` tells two versions
/// of an entry apart).
fn sleeper(name: &str, secs: u32) -> String {
    format!(
        "
[[services]]
name = \"{name}\"
command = \"/bin/sh\"
args = [\"-c\", \"exec sleep {secs}\"]
min_uptime_secs = 0
"
    )
}

fn pid(s: &Value, name: &str) -> Option<i64> {
    Sup::service(s, name)["pid"].as_i64()
}

/// Every service named is RUNNING.
fn running(s: &Value, names: &[&str]) -> bool {
    names.iter().all(|n| state(s, n) == "RUNNING")
}

/// `(kind, body)` of the ops journal's records.
fn ops(data: &Path) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let _ = ballast_store::journal::scan(
        &ballast_store::RealStorage,
        &data.join("journal/ops"),
        &mut |r: &ballast_store::record::RecordRef<'_>| {
            out.push((
                r.kind.to_string(),
                serde_json::from_str(r.body.get()).unwrap_or(Value::Null),
            ));
            Ok(())
        },
    );
    out
}

/// The ops journal's reload events, once `n` of them are there.
fn wait_reloads(data: &Path, n: usize) -> Vec<(String, Value)> {
    wait::until(
        Duration::from_secs(30),
        || {
            let r: Vec<_> = ops(data)
                .into_iter()
                .filter(|(k, _)| k.starts_with("config."))
                .collect();
            if r.len() >= n { Ok(r) } else { Err(r) }
        },
        |r| format!("{n} reload event(s) expected in the ops journal, found {r:?}"),
    )
}

fn write_config(sup: &Sup, text: &str) {
    // An editor's way: a new file renamed over the old one.
    let tmp = sup.dir.join(".ballast.toml.new");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, sup.dir.join("ballast.toml")).unwrap();
}

fn crc_of(sup: &Sup) -> String {
    let bytes = std::fs::read(sup.dir.join("ballast.toml")).unwrap();
    format!("crc32c:{:08x}", crc32c::crc32c(&bytes))
}

#[test]
fn a_changed_service_restarts_alone_a_new_one_starts_and_a_removed_one_stops() {
    let tmp = tempfile::tempdir().unwrap();
    let first = format!(
        "{NO_ENGINE}{}{}{}",
        sleeper("keep", 1000),
        sleeper("changed", 1000),
        sleeper("gone", 1000)
    );
    let sup = Sup::start(tmp.path(), &first);
    let before = sup.wait_for("three running", |s| {
        running(s, &["keep", "changed", "gone"])
    });
    assert_eq!(before["loaded"]["hash"], crc_of(&sup), "{before}");
    let (keep, changed, gone) = (
        pid(&before, "keep").unwrap(),
        pid(&before, "changed").unwrap(),
        pid(&before, "gone").unwrap(),
    );
    write_config(
        &sup,
        &format!(
            "{NO_ENGINE}{}{}{}",
            sleeper("keep", 1000),
            sleeper("changed", 1001),
            sleeper("new", 1000)
        ),
    );
    let out = sup.cli(&["reload"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    for words in [
        "restart service changed (only it)",
        "start service new",
        "stop service gone",
        "services[changed]",
    ] {
        assert!(said.contains(words), "{words:?} not in {said}");
    }
    let after = sup.wait_for("the plan carried out", |s| {
        running(s, &["keep", "changed", "new"])
            && pid(s, "changed") != Some(changed)
            && Sup::service(s, "gone").is_null()
    });
    assert_eq!(
        pid(&after, "keep"),
        Some(keep),
        "the unchanged service ran on"
    );
    assert!(
        !alive(i32::try_from(gone).unwrap()),
        "the removed service is stopped"
    );
    assert_eq!(after["loaded"]["hash"], crc_of(&sup), "{after}");
    assert!(
        after["loaded"]["last_reload"]
            .as_str()
            .is_some_and(|r| r.starts_with("applied")),
        "{after}"
    );
    let status = text(&sup.cli(&["status"]).stdout);
    assert!(
        status.contains(&format!("configuration hash {}", crc_of(&sup))),
        "{status}"
    );
    let events = wait_reloads(&tmp.path().join("data"), 1);
    assert_eq!(events[0].0, "config.reloaded", "{events:?}");
    let body = &events[0].1;
    assert_eq!(body["outcome"], "applied");
    assert_eq!(body["by"], "ballast reload");
    assert!(
        body["diff"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["key"].as_str().unwrap().starts_with("services[new]")),
        "{body}"
    );
}

#[test]
fn an_invalid_reload_changes_nothing_and_names_every_error_at_its_line() {
    let tmp = tempfile::tempdir().unwrap();
    let first = format!("{NO_ENGINE}{}", sleeper("bot", 1000));
    let sup = Sup::start(tmp.path(), &first);
    let before = sup.wait_for("running", |s| running(s, &["bot"]));
    let hash = crc_of(&sup);
    // Two errors: an unknown key on line 3 and a value of the wrong type on line 6 — and a
    // changed service that must not restart.
    write_config(
        &sup,
        &format!(
            "{NO_ENGINE}[guard]\nmax_open_ordrs = 5\n[health]\ncycle_ms = \"fast\"\n{}",
            sleeper("bot", 1001)
        ),
    );
    let out = sup.cli(&["reload"]);
    assert_eq!(out.status.code(), Some(78), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    let file = sup.dir.join("ballast.toml").display().to_string();
    for at in [format!("{file}:4:"), format!("{file}:6:")] {
        assert!(err.contains(&at), "{at} not in {err}");
    }
    assert!(err.contains("max_open_ordrs"), "{err}");
    assert!(err.contains("2 configuration errors"), "{err}");
    let after = sup.status().unwrap();
    assert_eq!(pid(&after, "bot"), pid(&before, "bot"), "nothing restarted");
    assert_eq!(after["loaded"]["hash"], hash, "the configuration in force");
    let events = wait_reloads(&tmp.path().join("data"), 1);
    assert_eq!(events[0].0, "config.reload_refused");
    assert_eq!(events[0].1["outcome"], "invalid");
    assert_eq!(events[0].1["errors"].as_array().unwrap().len(), 2);
}

#[test]
fn a_key_that_cannot_change_live_is_refused_by_name_and_nothing_is_applied() {
    let tmp = tempfile::tempdir().unwrap();
    let sup = Sup::start(tmp.path(), &format!("{NO_ENGINE}{}", sleeper("bot", 1000)));
    let before = sup.wait_for("running", |s| running(s, &["bot"]));
    write_config(
        &sup,
        &format!(
            "{NO_ENGINE}[paper]\nstarting_cash_usd = 5000\n{}",
            sleeper("bot", 1001)
        ),
    );
    let out = sup.cli(&["reload"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(
        err.contains("restart Ballast to change paper.starting_cash_usd"),
        "{err}"
    );
    let after = sup.status().unwrap();
    assert_eq!(pid(&after, "bot"), pid(&before, "bot"), "nothing restarted");
    let events = wait_reloads(&tmp.path().join("data"), 1);
    assert_eq!(events[0].0, "config.reload_refused");
    assert_eq!(events[0].1["outcome"], "refused");
}

#[test]
fn a_dry_run_prints_the_plan_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let sup = Sup::start(tmp.path(), &format!("{NO_ENGINE}{}", sleeper("bot", 1000)));
    let before = sup.wait_for("running", |s| running(s, &["bot"]));
    let hash = crc_of(&sup);
    write_config(&sup, &format!("{NO_ENGINE}{}", sleeper("bot", 1001)));
    let out = sup.cli(&["reload", "--dry-run", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["outcome"], "dry_run", "{plan}");
    assert_eq!(
        plan["actions"][0], "restart service bot (only it)",
        "{plan}"
    );
    assert_eq!(plan["hash"], crc_of(&sup), "the plan names the file read");
    let after = sup.status().unwrap();
    assert_eq!(pid(&after, "bot"), pid(&before, "bot"));
    assert_eq!(after["loaded"]["hash"], hash);
    assert!(after["loaded"]["last_reload"].is_null(), "{after}");
}

#[test]
fn sighup_reloads_the_configuration() {
    let tmp = tempfile::tempdir().unwrap();
    let sup = Sup::start(tmp.path(), &format!("{NO_ENGINE}{}", sleeper("bot", 1000)));
    let before = sup.wait_for("running", |s| running(s, &["bot"]));
    let old = pid(&before, "bot");
    write_config(
        &sup,
        &format!(
            "{NO_ENGINE}{}{}",
            sleeper("bot", 1000),
            sleeper("added", 1000)
        ),
    );
    rustix::process::kill_process(
        rustix::process::Pid::from_child(&sup.child),
        rustix::process::Signal::HUP,
    )
    .unwrap();
    let after = sup.wait_for("the added service", |s| running(s, &["bot", "added"]));
    assert_eq!(pid(&after, "bot"), old, "the unchanged service ran on");
    let events = wait_reloads(&tmp.path().join("data"), 1);
    assert_eq!(events[0].1["by"], "SIGHUP");
    assert!(sup.child.id() > 0);
}

/// The recommendations waiting for an operator whose action is `action`.
fn pending_of(h: &Value, action: &str) -> Vec<Value> {
    h["recommendations"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .filter(|r| r["action"] == action && r["state"] == "PENDING")
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

fn issue<'a>(h: &'a Value, id: &str) -> Option<&'a Value> {
    h["issues"]
        .as_array()
        .and_then(|is| is.iter().find(|i| i["id"] == id))
}

#[test]
fn a_changed_file_on_disk_waits_for_approval_and_an_invalid_one_is_a_medium_issue() {
    let tmp = tempfile::tempdir().unwrap();
    let first = format!("{NO_ENGINE}{FAST_HEALTH}{}", sleeper("bot", 1000));
    let sup = Sup::start(tmp.path(), &first);
    let before = sup.wait_for("running", |s| running(s, &["bot"]));
    let old = pid(&before, "bot");
    // A valid change: recommended, never carried out by itself.
    write_config(
        &sup,
        &format!("{NO_ENGINE}{FAST_HEALTH}{}", sleeper("bot", 1001)),
    );
    let h = wait_health(&sup, "a reload_config recommendation", |h| {
        !pending_of(h, "reload_config").is_empty()
    });
    let rec = &pending_of(&h, "reload_config")[0];
    let id = rec["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("configuration/reload_"), "{rec}");
    let i = issue(&h, rec["issue"].as_str().unwrap()).unwrap();
    assert!(
        i["symptoms"][0].as_str().unwrap().contains("services[bot]"),
        "{i}"
    );
    // Several health cycles later it still waits, and nothing was restarted.
    let later = wait_health(&sup, "more cycles", |x| x["at"] != h["at"]);
    assert_eq!(pending_of(&later, "reload_config").len(), 1, "{later:#}");
    assert_eq!(pid(&sup.status().unwrap(), "bot"), old, "never automatic");
    let out = sup.cli(&["approve", &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("restart service bot"),
        "{}",
        text(&out.stdout)
    );
    sup.wait_for("bot restarted by the approval", |s| {
        running(s, &["bot"]) && pid(s, "bot") != old
    });
    wait_health(&sup, "the recommendation cleared", |h| {
        pending_of(h, "reload_config").is_empty()
            && h["issues"]
                .as_array()
                .is_some_and(|is| !is.iter().any(|i| i["subsystem"] == "configuration"))
    });
    let events = wait_reloads(&tmp.path().join("data"), 1);
    assert_eq!(events[0].1["by"], "approved recommendation");
    // An invalid file: a MEDIUM issue naming its error; put back, it clears.
    let in_force = std::fs::read_to_string(sup.dir.join("ballast.toml")).unwrap();
    write_config(&sup, &format!("{in_force}\n[guard]\nmax_open_ordrs = 5\n"));
    let h = wait_health(&sup, "the invalid file's issue", |h| {
        issue(h, "configuration/file").is_some()
    });
    let i = issue(&h, "configuration/file").unwrap();
    assert_eq!(i["severity"], "MEDIUM", "{i}");
    assert!(
        i["symptoms"][0]
            .as_str()
            .unwrap()
            .contains("max_open_ordrs"),
        "{i}"
    );
    assert!(pending_of(&h, "reload_config").is_empty(), "{h:#}");
    write_config(&sup, &in_force);
    wait_health(&sup, "the issue cleared once the file is put back", |h| {
        issue(h, "configuration/file").is_none()
    });
}

/// The engine's journal records of `data`, parsed: `(type, body)`.
fn engine_records(data: &Path) -> Vec<(String, Value)> {
    journal::engine_records(data)
        .into_iter()
        .map(|(k, b)| (k, serde_json::from_str(&b).unwrap_or(Value::Null)))
        .collect()
}

/// Poll the engine journal until `find` finds something (at most 60 s).
fn wait_engine<T>(data: &Path, what: &str, find: impl Fn(&[(String, Value)]) -> Option<T>) -> T {
    wait::until(
        Duration::from_secs(60),
        || find(&engine_records(data)).ok_or(()),
        |()| format!("timed out waiting for {what} in the engine journal"),
    )
}

fn signal(data: &Path, key: &str) {
    common::buy_signal(data, key);
}

/// The decision of signal number `n` (0-based) of strategy `t`.
fn decision(data: &Path, n: usize) -> Value {
    wait_engine(data, &format!("the decision of signal {n}"), |recs| {
        recs.iter()
            .filter(|(k, b)| k == "engine.decision" && b["strategy"] == "t")
            .nth(n)
            .map(|(_, b)| b.clone())
    })
}

#[test]
fn a_reloaded_guard_limit_is_adopted_by_the_running_engine_and_judges_the_next_order() {
    let tmp = tempfile::tempdir().unwrap();
    // Only the size checks judge the identical signals (no cooldown, no duplicate window).
    let config =
        "[feed]\nbars_per_second = 20\n[guard]\nmin_cooldown_bars = 0\nduplicate_window_secs = 0\n";
    let sup = Sup::start(tmp.path(), config);
    let data = tmp.path().join("data");
    let s = sup.wait_for("the engine running", |s| running(s, &["engine"]));
    let engine = pid(&s, "engine").unwrap();
    // The supervisor wrote the starting configuration's settings before the engine started.
    let file = ballast_store::files::engine_settings::read(
        &ballast_store::RealStorage,
        &ballast_store::Layout::new(&data),
    )
    .unwrap();
    assert_eq!(file.config_hash, crc_of(&sup));
    wait_engine(&data, "a few bars", |recs| {
        (recs.iter().filter(|(k, _)| k == "market.bar").count() >= 10).then_some(())
    });
    std::fs::create_dir_all(data.join("inbox")).unwrap();
    signal(&data, "k1");
    let first = decision(&data, 0);
    assert!(
        first["order"].is_object(),
        "approved by the first limit: {first}"
    );
    // The per-order limit lowered under the price of two shares, and reloaded.
    write_config(&sup, &format!("{config}max_notional_per_order_usd = 10\n"));
    let out = sup.cli(&["reload"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("guard.max_notional_per_order_usd"),
        "{}",
        text(&out.stdout)
    );
    let adopted = wait_engine(&data, "the reload's settings", |recs| {
        recs.iter()
            .find(|(k, b)| k == "engine.settings" && b["source"] == "reload")
            .map(|(_, b)| b.clone())
    });
    assert_eq!(adopted["now"]["guard"]["max_notional_per_order_usd"], "10");
    assert_eq!(adopted["config_hash"], crc_of(&sup));
    signal(&data, "k2");
    let second = decision(&data, 1);
    assert!(second["order"].is_null(), "rejected: {second}");
    let reasons = second["verdict"]["reasons"].as_array().unwrap();
    assert!(
        reasons
            .iter()
            .any(|r| r["check"] == "max_notional_per_order" && r["limit"] == "10"),
        "judged by the new limit: {second}"
    );
    let after = sup.status().unwrap();
    assert_eq!(
        pid(&after, "engine"),
        Some(engine),
        "no restart of the engine"
    );
    let events = wait_reloads(&data, 1);
    assert_eq!(events[0].0, "config.reloaded");
    assert!(
        events[0].1["actions"][0]
            .as_str()
            .unwrap()
            .starts_with("engine settings"),
        "{:?}",
        events[0]
    );
}

#[test]
fn a_reload_replaces_the_declared_checks_in_the_running_health_monitor() {
    let tmp = tempfile::tempdir().unwrap();
    let present = tmp.path().join("model.bin");
    std::fs::write(&present, "x").unwrap();
    let check = |name: &str| {
        format!(
            "\n[[checks]]\nname = \"{name}\"\nkind = \"files_present\"\npaths = [\"{}\"]\n",
            present.display()
        )
    };
    let base = format!("{NO_ENGINE}{FAST_HEALTH}{}", sleeper("bot", 1000));
    let sup = Sup::start(tmp.path(), &format!("{base}{}", check("old-model")));
    let names = |h: &Value| -> Vec<String> {
        h["subsystems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap().to_owned())
            .collect()
    };
    wait_health(&sup, "the first check", |h| {
        names(h).contains(&"old-model".to_owned())
    });
    write_config(&sup, &format!("{base}{}", check("new-model")));
    let out = sup.cli(&["reload"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("checks: the declared checks are replaced"));
    let h = wait_health(&sup, "the reloaded check", |h| {
        let n = names(h);
        n.contains(&"new-model".to_owned()) && !n.contains(&"old-model".to_owned())
    });
    let sub = h["subsystems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "new-model")
        .unwrap();
    assert_eq!(sub["status"], "HEALTHY", "{sub}");
}

#[test]
fn a_service_added_by_a_reload_that_signals_readiness_by_sd_notify_becomes_running() {
    let tmp = tempfile::tempdir().unwrap();
    let base = format!("{NO_ENGINE}{}", sleeper("bot", 1000));
    let sup = Sup::start(tmp.path(), &base);
    sup.wait_for("running", |s| running(s, &["bot"]));
    // Its NOTIFY_SOCKET did not exist at the start: the reload binds it.
    write_config(
        &sup,
        &format!(
            "{base}
[[services]]
name = \"notifier\"
command = \"/bin/sh\"
args = [\"-c\", \"{exe} notify READY=1; exec sleep 1000\"]
readiness = \"notify\"
min_uptime_secs = 600
",
            exe = env!("CARGO_BIN_EXE_ballast")
        ),
    );
    let out = sup.cli(&["reload"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // RUNNING long before its 600 s of uptime: by READY=1 on the new socket.
    sup.wait_for("the new notify service ready", |s| {
        running(s, &["notifier", "bot"])
    });
}

#[test]
fn an_engine_restarted_after_an_edit_not_reloaded_runs_the_configuration_in_force() {
    let tmp = tempfile::tempdir().unwrap();
    let config =
        "[feed]\nbars_per_second = 20\n[guard]\nmin_cooldown_bars = 0\nduplicate_window_secs = 0\n";
    let sup = Sup::start(tmp.path(), config);
    let data = tmp.path().join("data");
    let s = sup.wait_for("the engine running", |s| running(s, &["engine"]));
    let first = pid(&s, "engine").unwrap();
    // The file is edited — a per-order limit under the price of one share — but not reloaded.
    write_config(&sup, &format!("{config}max_notional_per_order_usd = 10\n"));
    let out = sup.cli(&["restart", "engine"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    sup.wait_for("the engine started again", |s| {
        running(s, &["engine"]) && pid(s, "engine").is_some_and(|p| p != first)
    });
    // Bars of the new engine: its start is behind it.
    let bars = wait_engine(&data, "bars", |recs| {
        Some(recs.iter().filter(|(k, _)| k == "market.bar").count())
    });
    wait_engine(&data, "bars of the restarted engine", |recs| {
        (recs.iter().filter(|(k, _)| k == "market.bar").count() >= bars + 5).then_some(())
    });
    std::fs::create_dir_all(data.join("inbox")).unwrap();
    signal(&data, "k1");
    let d = decision(&data, 0);
    assert!(
        d["order"].is_object(),
        "the restarted engine judges by the configuration in force, not by the edited file: {d}"
    );
    let recs = wait_engine(&data, "the journal", |recs| Some(recs.to_vec()));
    assert!(
        !recs.iter().any(|(k, b)| k == "engine.settings"
            && b["now"]["guard"]["max_notional_per_order_usd"] == "10"),
        "no settings of the edited file were journaled: {recs:?}"
    );
    // Reloaded, the edit is in force.
    let out = sup.cli(&["reload"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let adopted = wait_engine(&data, "the reload's settings", |recs| {
        recs.iter()
            .find(|(k, b)| k == "engine.settings" && b["source"] == "reload")
            .map(|(_, b)| b.clone())
    });
    assert_eq!(adopted["now"]["guard"]["max_notional_per_order_usd"], "10");
}

#[test]
fn a_reload_that_changes_no_limit_keeps_the_engine_on_the_settings_of_the_configuration_in_force() {
    let tmp = tempfile::tempdir().unwrap();
    let config = format!("[feed]\nbars_per_second = 20\n{}", sleeper("bot", 1000));
    let sup = Sup::start(tmp.path(), &config);
    let data = tmp.path().join("data");
    sup.wait_for("the engine and bot running", |s| {
        running(s, &["engine", "bot"])
    });
    let settings = || -> Value {
        std::fs::read(data.join("run/engine.heartbeat"))
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .map_or(Value::Null, |h| h["status"]["settings"].clone())
    };
    let in_force = |hash: &str| {
        let hash = hash.to_owned();
        move |s: &Value| s["state"] == "in_force" && s["hash"] == hash.as_str()
    };
    let first = crc_of(&sup);
    wait::until(
        Duration::from_secs(30),
        || Some(settings()).filter(in_force(&first)).ok_or(()),
        |()| {
            format!(
                "the engine never reported the settings in force: {}",
                settings()
            )
        },
    );
    // Only a service changes: no limit, but a new configuration in force.
    write_config(
        &sup,
        &format!("[feed]\nbars_per_second = 20\n{}", sleeper("bot", 1001)),
    );
    let out = sup.cli(&["reload"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let second = crc_of(&sup);
    assert_ne!(first, second);
    // The engine judges by the new configuration's settings (the same limits): never a
    // settings file of another configuration refused as rolled back.
    let seen = wait::until(
        Duration::from_secs(30),
        || {
            let s = settings();
            assert_ne!(s["state"], "refused", "refused after a plain reload: {s}");
            Some(s).filter(in_force(&second)).ok_or(())
        },
        |()| {
            format!(
                "the engine is not on the configuration in force: {}",
                settings()
            )
        },
    );
    assert_eq!(seen["hash"], second.as_str());
}
