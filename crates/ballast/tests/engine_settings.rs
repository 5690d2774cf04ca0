//! Live engine settings over a real standalone engine process: `state/engine-settings.json`
//! (what the supervisor's `ballast reload` writes) is adopted at a bar boundary, journaled as
//! an `engine.settings` record, and the next order is judged by the new limit; after `kill -9`
//! the restarted engine replays it (the journal is the source of truth, not the file).

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ballast_core::engine::{EngineSettings, SettingsFile, settings::FILE_VERSION};
use rust_decimal::Decimal;
use serde_json::Value;

/// `[guard]` without the checks that would reject the test's identical signals for another
/// reason (cooldown after a trade, the duplicate window): only the size checks judge them.
const CONFIG: &str = "[guard]\nmin_cooldown_bars = 0\nduplicate_window_secs = 0\n";

/// A standalone engine on `data` with `config`, paced so that the test acts between bars.
fn engine(data: &Path, config: &Path) -> Command {
    let mut c = common::ballast();
    c.args(["engine", "--standalone", "--bars-per-second", "40"])
        .arg("--data-dir")
        .arg(data)
        .arg("--config")
        .arg(config)
        .env_remove("BALLAST_CHAOS_LOST_REPLY_EVERY")
        .env_remove("BALLAST_CHAOS_CRASH_AFTER_SEQ");
    c
}

/// The engine running (until killed), its log in `log`.
fn spawn(data: &Path, config: &Path, log: &Path) -> Child {
    engine(data, config)
        .args(["--max-bars", "100000"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap()
}

/// Wait until the engine's log says `what` (at most 60 s).
fn wait_log(log: &Path, what: &str) -> String {
    common::wait::until(
        Duration::from_secs(60),
        || {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            if text.contains(what) {
                Ok(text)
            } else {
                Err(text)
            }
        },
        |text| format!("the log never said {what:?}:\n{text}"),
    )
}

fn signal(data: &Path, key: &str) {
    common::buy_signal(data, key);
}

/// The journal's records, parsed: `(type, body)`.
fn records(data: &Path) -> Vec<(String, Value)> {
    common::journal::engine_records(data)
        .into_iter()
        .map(|(k, b)| (k, serde_json::from_str(&b).unwrap()))
        .collect()
}

/// Poll the journal until `find` finds something in it (at most 60 s).
fn wait_for<T>(data: &Path, what: &str, find: impl Fn(&[(String, Value)]) -> Option<T>) -> T {
    common::wait::until(
        Duration::from_secs(60),
        || find(&records(data)).ok_or(()),
        |()| format!("timed out waiting for {what}"),
    )
}

/// The decision of the inbox signal of strategy `t` number `n` (0-based), once journaled.
fn decision(data: &Path, n: usize) -> Value {
    wait_for(data, &format!("the decision of signal {n}"), |recs| {
        recs.iter()
            .filter(|(k, b)| k == "engine.decision" && b["strategy"] == "t")
            .nth(n)
            .map(|(_, b)| b.clone())
    })
}

fn bars(recs: &[(String, Value)]) -> usize {
    recs.iter().filter(|(k, _)| k == "market.bar").count()
}

fn settings_records(data: &Path) -> Vec<Value> {
    records(data)
        .into_iter()
        .filter(|(k, _)| k == "engine.settings")
        .map(|(_, b)| b)
        .collect()
}

#[test]
fn a_settings_file_is_adopted_at_a_bar_boundary_and_the_next_order_is_judged_by_the_new_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(data.join("inbox")).unwrap();
    let config_file = tmp.path().join("ballast.toml");
    std::fs::write(&config_file, CONFIG).unwrap();
    let config = ballast_core::config::load(
        Some(ballast_core::config::Source {
            path: "ballast.toml",
            text: CONFIG,
        }),
        &[],
    )
    .unwrap();

    let log = tmp.path().join("engine.log");
    let mut child = spawn(&data, &config_file, &log);
    // The start journals the configuration's settings.
    let start = wait_for(&data, "the start's settings", |recs| {
        recs.iter()
            .find(|(k, _)| k == "engine.settings")
            .map(|(_, b)| b.clone())
    });
    assert_eq!(start["source"], "start");
    assert_eq!(start["now"]["guard"]["max_notional_per_order_usd"], "5000");
    // A signal the configured limit allows, once every symbol has a price.
    wait_for(&data, "a few bars", |recs| (bars(recs) >= 10).then_some(()));
    signal(&data, "k1");
    let first = decision(&data, 0);
    assert!(first["order"].is_object(), "approved: {first}");

    // A reload lowers the per-order limit under one share's price; a damaged file before it
    // changes nothing (said, not adopted).
    let layout = ballast_store::Layout::new(&data);
    std::fs::write(
        layout.engine_settings_file(),
        b"{\"not\":\"a settings file\",\"settings\":{}}\n",
    )
    .unwrap();
    let said = wait_log(&log, "engine-settings.json is not used");
    assert!(said.contains("it has no checksum"), "{said}");
    let mut lower = EngineSettings::of(&config);
    lower.guard.max_notional_per_order_usd = Decimal::from(10);
    let file = SettingsFile {
        version: FILE_VERSION,
        config_hash: "test-hash".into(),
        at: ballast_core::Timestamp::EPOCH,
        settings: lower.clone(),
    };
    let bars_before = bars(&records(&data));
    ballast_store::files::engine_settings::write(&ballast_store::RealStorage, &layout, &file)
        .unwrap();
    let said = wait_log(&log, "settings changed at seq");
    assert!(
        said.contains("guard.max_notional_per_order_usd 5000 -> 10")
            && said.contains("configuration test-hash"),
        "{said}"
    );
    let adopted = wait_for(&data, "the reload's settings", |recs| {
        recs.iter()
            .find(|(k, b)| k == "engine.settings" && b["source"] == "reload")
            .map(|(_, b)| b.clone())
    });
    assert_eq!(adopted["config_hash"], "test-hash");
    assert_eq!(adopted["now"]["guard"]["max_notional_per_order_usd"], "10");
    assert_eq!(
        adopted["previous"]["guard"]["max_notional_per_order_usd"],
        "5000"
    );
    assert!(
        bars(&records(&data)) > bars_before,
        "adopted at a bar boundary of the running engine"
    );
    // The same signal again: rejected by the per-order limit, the new limit named.
    signal(&data, "k2");
    let second = decision(&data, 1);
    assert!(second["order"].is_null(), "rejected: {second}");
    assert_eq!(second["verdict"]["verdict"], "reject", "{second}");
    let reasons = second["verdict"]["reasons"].as_array().unwrap();
    assert!(
        reasons
            .iter()
            .any(|r| r["check"] == "max_notional_per_order" && r["limit"] == "10"),
        "{second}"
    );

    // kill -9, then a restart with a configuration that says the same (as after an edited
    // file and a reload): the replayed state has the reload's settings — nothing is journaled
    // at the start — and still judges by them.
    child.kill().unwrap();
    child.wait().unwrap();
    let edited = tmp.path().join("edited.toml");
    std::fs::write(
        &edited,
        format!("{CONFIG}max_notional_per_order_usd = 10\n"),
    )
    .unwrap();
    let mut child = spawn(&data, &edited, &tmp.path().join("restart.log"));
    signal(&data, "k3");
    let third = decision(&data, 2);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(third["order"].is_null(), "still the new limit: {third}");
    assert_eq!(settings_records(&data).len(), 2, "nothing at the restart");

    // A restart with the first configuration: the configuration file wins at a start, over
    // the settings in force (the replayed reload's), journaled and said.
    let n = records(&data).len();
    let out = engine(&data, &config_file)
        .args(["--max-bars", &bars(&records(&data)).to_string()])
        .output()
        .unwrap();
    common::process::assert_ok(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("guard.max_notional_per_order_usd 10 -> 5000"),
        "{stderr}"
    );
    let recs = records(&data);
    let top: Vec<&str> = recs[n..].iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(top, ["engine.settings"], "only the start's settings");
    assert_eq!(recs[n].1["source"], "start");
    assert_eq!(
        recs[n].1["previous"]["guard"]["max_notional_per_order_usd"],
        "10"
    );
}

/// A well-formed, sealed settings file whose values the configuration forbids (what a hand or
/// a hostile process can write: the checksum is no authentication) is refused by the same
/// rules as `ballast check`'s — each bad key named with its value and the allowed range, said
/// once, nothing journaled, the next order judged by the limits in force — and a file changed
/// after it was sealed is refused without the checksum that would have matched being said.
#[test]
fn a_sealed_settings_file_with_forbidden_values_is_refused_naming_each_key_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(data.join("inbox")).unwrap();
    let config_file = tmp.path().join("ballast.toml");
    std::fs::write(&config_file, CONFIG).unwrap();
    let config = ballast_core::config::load(
        Some(ballast_core::config::Source {
            path: "ballast.toml",
            text: CONFIG,
        }),
        &[],
    )
    .unwrap();
    let log = tmp.path().join("engine.log");
    let mut child = spawn(&data, &config_file, &log);
    wait_for(&data, "the start's settings", |recs| {
        recs.iter()
            .any(|(k, _)| k == "engine.settings")
            .then_some(())
    });
    let layout = ballast_store::Layout::new(&data);
    let sealed = |settings: EngineSettings| SettingsFile {
        version: FILE_VERSION,
        config_hash: "hostile".into(),
        at: ballast_core::Timestamp::EPOCH,
        settings,
    };

    // A file changed after it was sealed: the checksum that would match is not said.
    let mut tweaked = EngineSettings::of(&config);
    tweaked.guard.max_open_orders = 7;
    let bytes = ballast_core::engine::settings::encode_file(&sealed(tweaked));
    let text = String::from_utf8(bytes).unwrap();
    let forged = text.replace("\"max_open_orders\":7", "\"max_open_orders\":9");
    let body = &forged[..forged.rfind(",\"crc\":").unwrap()];
    let would_match = format!("{:08x}", crc32c::crc32c(body.as_bytes()));
    std::fs::write(layout.engine_settings_file(), &forged).unwrap();
    let said = wait_log(&log, "checksum does not match");
    assert!(
        !said.contains(&would_match),
        "the forging checksum said:\n{said}"
    );

    // The tester's values: each one `ballast check` refuses.
    let mut bad = EngineSettings::of(&config);
    bad.guard.daily_loss_limit_pct = Decimal::from(-50);
    bad.guard.max_portfolio_exposure_pct = Decimal::from(100_000);
    bad.guard.max_position_notional_usd = Decimal::from(-1);
    bad.guard.max_orders_per_second = 0;
    ballast_store::files::engine_settings::write(
        &ballast_store::RealStorage,
        &layout,
        &sealed(bad),
    )
    .unwrap();
    let said = wait_log(&log, "break the configuration's rules");
    for needle in [
        "[guard] daily_loss_limit_pct: -50 is out of range (allowed greater than 0, at most 100)",
        "[guard] max_portfolio_exposure_pct: 100000 is out of range (allowed greater than 0, at most 1000)",
        "[guard] max_position_notional_usd: -1 is out of range",
        "[guard] max_orders_per_second: 0 is out of range (allowed 1 to 10000)",
        "the settings in force stay",
    ] {
        assert!(said.contains(needle), "{needle:?} not said:\n{said}");
    }
    // A cross-field rule, as in a configuration file.
    let mut crossed = EngineSettings::of(&config);
    crossed.guard.max_notional_per_order_usd = Decimal::from(20_000);
    ballast_store::files::engine_settings::write(
        &ballast_store::RealStorage,
        &layout,
        &sealed(crossed),
    )
    .unwrap();
    let said = wait_log(
        &log,
        "max_notional_per_order_usd = 20000 exceeds max_position_notional_usd = 10000",
    );
    assert_eq!(
        said.matches("break the configuration's rules").count(),
        2,
        "each refused file said once:\n{said}"
    );
    assert_eq!(settings_records(&data).len(), 1, "nothing adopted");

    // The limits in force still judge: a signal the configured limit allows is approved.
    wait_for(&data, "a few bars", |recs| (bars(recs) >= 10).then_some(()));
    signal(&data, "k1");
    let first = decision(&data, 0);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        first["order"].is_object(),
        "approved by the limits in force: {first}"
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        text.matches("break the configuration's rules").count(),
        2,
        "said once per file, not once per bar:\n{text}"
    );
}
