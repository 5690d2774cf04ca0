//! A supervised engine adopts only the settings of the configuration in force (issue 12): a
//! genuine older settings file copied back over the current one (a rollback), and one whose
//! values were changed and checksum recomputed (a forgery, with a made-up or with the right
//! configuration hash), are refused with one warning each, change nothing the engine judges
//! by, and make the guard subsystem DEGRADED with the reason until the file is the in-force
//! one again; a normal reload is still adopted (`reload.rs`).
//!
//! Every wait polls for a condition with a deadline; none sleeps a fixed time hoping.

use std::path::Path;
use std::time::Duration;

use ballast_core::engine::SettingsFile;
use serde_json::Value;

mod common;
use common::process::text;
use common::*;

const BASE: &str =
    "[feed]\nbars_per_second = 20\n[guard]\nmin_cooldown_bars = 0\nduplicate_window_secs = 0\n";

fn write_config(sup: &Sup, text: &str) {
    let tmp = sup.dir.join(".ballast.toml.new");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, sup.dir.join("ballast.toml")).unwrap();
}

fn crc_of(sup: &Sup) -> String {
    let bytes = std::fs::read(sup.dir.join("ballast.toml")).unwrap();
    format!("crc32c:{:08x}", crc32c::crc32c(&bytes))
}

/// The engine journal's `engine.settings` records, as JSON.
fn settings_records(data: &Path) -> Vec<Value> {
    journal::engine_records(data)
        .into_iter()
        .filter(|(k, _)| k == "engine.settings")
        .map(|(_, b)| serde_json::from_str(&b).unwrap())
        .collect()
}

fn bars(data: &Path) -> usize {
    journal::engine_records(data)
        .iter()
        .filter(|(k, _)| k == "market.bar")
        .count()
}

fn per_order(r: &Value) -> &str {
    r["now"]["guard"]["max_notional_per_order_usd"]
        .as_str()
        .unwrap_or("")
}

/// The supervised engine's log once it says `what` (at most 60 s).
fn wait_log(data: &Path, what: &str) -> String {
    let log = data.join("logs/engine.log");
    wait::until(
        Duration::from_secs(60),
        || {
            let t = std::fs::read_to_string(&log).unwrap_or_default();
            if t.contains(what) { Ok(t) } else { Err(t) }
        },
        |t| format!("the engine's log never said {what:?}:\n{t}"),
    )
}

/// The detail of the guard subsystem's checks, joined.
fn guard_detail(h: &Value) -> String {
    h["subsystems"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == "guard"))
        .and_then(|s| s["checks"].as_array())
        .map(|c| {
            c.iter()
                .filter_map(|c| c["detail"].as_str())
                .collect::<Vec<_>>()
                .join(" | ")
        })
        .unwrap_or_default()
}

/// After the engine said `said`, a few more bars pass and no settings record was added: the
/// limit in force stays `limit`.
fn nothing_adopted(data: &Path, records: usize, limit: &str) {
    let at = bars(data);
    wait::until(
        Duration::from_secs(30),
        || (bars(data) >= at + 5).then_some(()).ok_or(()),
        |()| "the engine stopped making bars".into(),
    );
    let recs = settings_records(data);
    assert_eq!(recs.len(), records, "nothing adopted: {recs:?}");
    assert_eq!(per_order(recs.last().unwrap()), limit);
}

#[test]
fn a_rolled_back_or_forged_settings_file_is_refused_and_the_health_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let first = format!("{FAST_HEALTH}{BASE}max_notional_per_order_usd = 5000\n");
    let sup = Sup::start(tmp.path(), &first);
    sup.wait_for("the engine running", |s| state(s, "engine") == "RUNNING");
    let file = data.join("state/engine-settings.json");
    let genuine_5000 = std::fs::read(&file).unwrap();
    // A normal reload to 100: adopted.
    write_config(
        &sup,
        &format!("{FAST_HEALTH}{BASE}max_notional_per_order_usd = 100\n"),
    );
    let out = sup.cli(&["reload"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let hash = crc_of(&sup);
    wait::until(
        Duration::from_secs(60),
        || {
            let r = settings_records(&data);
            r.last()
                .filter(|r| per_order(r) == "100" && r["source"] == "reload")
                .map(|_| r.len())
                .ok_or(r)
        },
        |r| format!("the reload's 100 never adopted: {r:?}"),
    );
    let n = settings_records(&data).len();
    wait_health(&sup, "the guard healthy", |h| {
        report::status(h, "guard") == "HEALTHY"
    });

    // (a) The older genuine file copied back: refused, said, reported.
    std::fs::write(&file, &genuine_5000).unwrap();
    let log = wait_log(&data, "rolled back or hand-written");
    assert!(
        log.contains(&hash),
        "names the configuration in force: {log}"
    );
    nothing_adopted(&data, n, "100");
    let h = wait_health(&sup, "the guard degraded by the refused file", |h| {
        report::status(h, "guard") == "DEGRADED"
    });
    assert!(
        guard_detail(&h).contains("rolled back or hand-written"),
        "{}",
        guard_detail(&h)
    );

    // (b) Forged: 4000 under a made-up configuration hash, checksum recomputed.
    let mut forged: SettingsFile = ballast_store::files::engine_settings::read(
        &ballast_store::RealStorage,
        &ballast_store::Layout::new(&data),
    )
    .unwrap();
    forged.settings.guard.max_notional_per_order_usd = 4000.into();
    forged.config_hash = "crc32c:deadbeef".into();
    std::fs::write(&file, ballast_core::engine::settings::encode_file(&forged)).unwrap();
    let log = wait_log(
        &data,
        "rolled back or hand-written: its configuration crc32c:deadbeef",
    );
    assert!(
        log.contains("crc32c:deadbeef is not the one in force yet"),
        "it waited for the configuration in force first: {log}"
    );
    nothing_adopted(&data, n, "100");

    // (c) Forged under the right hash: its settings are not the configuration's.
    forged.config_hash.clone_from(&hash);
    std::fs::write(&file, ballast_core::engine::settings::encode_file(&forged)).unwrap();
    wait_log(&data, "are not those of the configuration in force");
    nothing_adopted(&data, n, "100");
    let h = wait_health(&sup, "still degraded", |h| {
        report::status(h, "guard") == "DEGRADED"
    });
    assert!(
        guard_detail(&h).contains("hand-written"),
        "{}",
        guard_detail(&h)
    );
    let log = std::fs::read_to_string(data.join("logs/engine.log")).unwrap();
    assert_eq!(
        log.matches("rolled back or hand-written").count(),
        2,
        "one warning per refused file: {log}"
    );

    // The in-force file written back (as a reload writes it): the guard is healthy again.
    let mut good = forged.clone();
    good.settings.guard.max_notional_per_order_usd = 100.into();
    std::fs::write(&file, ballast_core::engine::settings::encode_file(&good)).unwrap();
    wait_health(&sup, "the guard healthy again", |h| {
        report::status(h, "guard") == "HEALTHY"
    });
    assert_eq!(
        settings_records(&data).len(),
        n,
        "the same settings: no record"
    );
}

/// Both files rolled back together (an older genuine `run/engine-config.json` and its settings
/// file): the engine cannot tell, but it reports the settings it judges by, and the supervisor,
/// whose configuration in force is another, shows the guard DEGRADED naming it.
#[test]
fn both_files_rolled_back_together_are_seen_by_the_supervisor() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let health = format!("{FAST_HEALTH}engine_degraded_secs = 1\n");
    let sup = Sup::start(
        tmp.path(),
        &format!("{BASE}max_notional_per_order_usd = 5000\n{health}"),
    );
    sup.wait_for("the engine running", |s| state(s, "engine") == "RUNNING");
    let settings = data.join("state/engine-settings.json");
    let in_force = data.join("run/engine-config.json");
    let (old_settings, old_in_force) = (
        std::fs::read(&settings).unwrap(),
        std::fs::read(&in_force).unwrap(),
    );
    write_config(
        &sup,
        &format!("{BASE}max_notional_per_order_usd = 100\n{health}"),
    );
    let out = sup.cli(&["reload"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    wait_health(&sup, "the guard healthy on the reloaded settings", |h| {
        report::status(h, "guard") == "HEALTHY" && guard_detail(h).contains(&crc_of(&sup))
    });
    // The in-force file first, then the settings file: the engine adopts the pair.
    std::fs::write(&in_force, &old_in_force).unwrap();
    std::fs::write(&settings, &old_settings).unwrap();
    wait::until(
        Duration::from_secs(30),
        || {
            let r = settings_records(&data);
            r.last()
                .filter(|r| per_order(r) == "5000")
                .map(|_| ())
                .ok_or(r)
        },
        |r| format!("the engine did not take the consistent pair: {r:?}"),
    );
    let h = wait_health(&sup, "the guard degraded: the supervisor sees it", |h| {
        report::status(h, "guard") == "DEGRADED"
    });
    assert!(
        guard_detail(&h).contains("changed behind the supervisor"),
        "{}",
        guard_detail(&h)
    );
}
