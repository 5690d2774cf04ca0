//! The feed fallback (`[feed.backup]`) over a real standalone engine process: the primary
//! stalls (the paper-only chaos knob `BALLAST_CHAOS_FEED_STALL`), the engine switches to the
//! backup replay once the primary is stale, trades on the backup's bars, and hands back once
//! the primary is fresh again for `recover_secs` — each switch journaled (`feed.switch`) before
//! the other feed's bars, said as an alert line, and shown in the heartbeat; after `kill -9`
//! the restarted engine replays which feed it was on.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

/// The backup's bars: every close 777, so a bar of the backup is told from the primary's.
fn backup_csv(path: &Path) {
    let mut text = String::from("Ticker,Date,Open,High,Low,Close,Volume\n");
    for day in 0..400 {
        let date = ballast_core::Timestamp::from_unix_ms(946_857_600_000 + day * 86_400_000);
        for sym in ["AAPL", "IBM", "MSFT"] {
            text.push_str(&format!(
                "{sym},{},777,777,777,777,1000000\n",
                &date.to_string()[..10]
            ));
        }
    }
    std::fs::write(path, text).unwrap();
}

fn engine(data: &Path, config: &Path, stall: &str) -> Command {
    let mut c = common::ballast();
    c.args(["engine", "--standalone", "--bars-per-second", "40"])
        .arg("--data-dir")
        .arg(data)
        .arg("--config")
        .arg(config)
        .env_remove("BALLAST_CHAOS_LOST_REPLY_EVERY")
        .env_remove("BALLAST_CHAOS_CRASH_AFTER_SEQ")
        .env("BALLAST_CHAOS_FEED_STALL", stall);
    c
}

fn spawn(data: &Path, config: &Path, stall: &str, log: &Path) -> Child {
    engine(data, config, stall)
        .args(["--max-bars", "100000"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap()
}

fn records(data: &Path) -> Vec<(String, Value)> {
    common::journal::engine_records(data)
        .into_iter()
        .map(|(k, b)| (k, serde_json::from_str(&b).unwrap()))
        .collect()
}

/// The `feed.switch` records' `to`, in order.
fn switches(recs: &[(String, Value)]) -> Vec<String> {
    recs.iter()
        .filter(|(k, _)| k == "feed.switch")
        .map(|(_, b)| b["to"].as_str().unwrap_or("?").to_owned())
        .collect()
}

fn wait_switches(data: &Path, want: &[&str]) -> Vec<(String, Value)> {
    common::wait::until(
        Duration::from_secs(60),
        || {
            let recs = records(data);
            if switches(&recs) == want {
                Ok(recs)
            } else {
                Err(switches(&recs))
            }
        },
        |seen| format!("the journal's switches are {seen:?}, not {want:?}"),
    )
}

/// The feed the heartbeat says is in use.
fn heartbeat_feed(data: &Path) -> String {
    std::fs::read_to_string(data.join("run/engine.heartbeat"))
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .and_then(|v| v["status"]["feed"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Which feed each `market.bar` came from, by its close (777: the backup's).
fn bar_feeds(recs: &[(String, Value)]) -> Vec<&'static str> {
    recs.iter()
        .filter(|(k, _)| k == "market.bar")
        .map(|(_, b)| {
            if b["bar"]["close"] == "777" {
                "backup"
            } else {
                "primary"
            }
        })
        .collect()
}

#[test]
fn a_stale_primary_feed_hands_over_to_the_backup_and_back_journaled() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let csv = tmp.path().join("backup.csv");
    backup_csv(&csv);
    let config = tmp.path().join("ballast.toml");
    std::fs::write(
        &config,
        format!(
            "[feed.backup]\nkind = \"replay\"\nreplay_file = {:?}\nstale_secs = 1\nrecover_secs = 1\n",
            csv.display().to_string()
        ),
    )
    .unwrap();
    let log = tmp.path().join("engine.log");
    // The primary delivers nothing for bars 30 to 150.
    let mut child = spawn(&data, &config, "30..=150", &log);
    let recs = wait_switches(&data, &["backup"]);
    let at = recs.iter().position(|(k, _)| k == "feed.switch").unwrap();
    assert_eq!(
        recs[..at].iter().filter(|(k, _)| k == "market.bar").count(),
        29,
        "the primary's 29 bars, then the switch"
    );
    let why = recs[at].1["why"].as_str().unwrap();
    assert!(
        why.contains("delivered no bar for") && why.contains("stale after 1 s"),
        "{why}"
    );
    common::wait::until(
        Duration::from_secs(30),
        || {
            let f = heartbeat_feed(&data);
            if f == "backup" { Ok(()) } else { Err(f) }
        },
        |f| format!("the heartbeat says feed {f:?}"),
    );
    // kill -9 on the backup: the restarted engine replays the switch and stays on it while
    // the primary is still stalled.
    common::wait::until(
        Duration::from_secs(30),
        || {
            let n = bar_feeds(&records(&data)).len();
            if n >= 60 { Ok(()) } else { Err(n) }
        },
        |n| format!("only {n} bars"),
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let restart_log = tmp.path().join("restart.log");
    let mut child = spawn(&data, &config, "30..=150", &restart_log);
    let recs = wait_switches(&data, &["backup", "primary"]);
    // The record is durable before the engine logs it: its alert line follows.
    common::wait::until(
        Duration::from_secs(30),
        || {
            let said = std::fs::read_to_string(&restart_log).unwrap_or_default();
            if said.contains("switched to the primary feed") {
                Ok(())
            } else {
                Err(said)
            }
        },
        |said| format!("no alert of the switch back: {said}"),
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let back = recs.iter().rposition(|(k, _)| k == "feed.switch").unwrap();
    let why = recs[back].1["why"].as_str().unwrap();
    assert!(
        why.contains("fresh again") && why.contains("recover after 1 s"),
        "{why}"
    );
    // Bars 1-29 from the primary, then the backup's (through the restart) up to the switch
    // back after bar 150, then the primary's again: no bar of one feed among the other's.
    let feeds = bar_feeds(&recs[..back]);
    assert!(feeds.len() > 150, "{}", feeds.len());
    assert!(feeds[..29].iter().all(|f| *f == "primary"), "{feeds:?}");
    assert!(feeds[29..].iter().all(|f| *f == "backup"), "{feeds:?}");
    let after = bar_feeds(&recs[back..]);
    assert!(after.iter().all(|f| *f == "primary"), "{after:?}");
    let said = std::fs::read_to_string(&log).unwrap();
    assert!(
        said.contains("ALERT: market data switched to the backup feed"),
        "{said}"
    );
    let said = std::fs::read_to_string(&restart_log).unwrap();
    assert!(
        said.contains("ALERT: market data switched to the primary feed"),
        "{said}"
    );
    assert!(
        !said.contains("switched to the backup"),
        "the restart stayed on the backup: {said}"
    );
}

/// Under a supervisor: while the engine trades on the backup, `ballast status` (text and
/// JSON) and `ballast health` (the data feed's detail) say so, and trading goes on.
#[test]
fn status_and_health_show_the_backup_feed_in_use() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = tmp.path().join("backup.csv");
    backup_csv(&csv);
    let config = format!(
        "[feed]\nbars_per_second = 40\n\n[feed.backup]\nkind = \"replay\"\nreplay_file = {:?}\nstale_secs = 1\n\n[health]\ncycle_ms = 100\ncritical_interval_secs = 1\ninterval_secs = 1\ncpu_degraded_pct = 100\nmemory_degraded_pct = 100\ndisk_free_min_pct = 0\n",
        csv.display().to_string()
    );
    // The primary never delivers again from bar 20 on.
    let sup = common::Sup::start_with_env(
        &tmp.path().join("sup"),
        &config,
        &[("BALLAST_CHAOS_FEED_STALL", "20")],
    );
    sup.wait_for("the backup feed in the status", |s| {
        s["engine"]["feed"] == "backup"
    });
    let text = common::wait::until(
        Duration::from_secs(30),
        || {
            let out = sup.cli(&["status"]);
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            if text.contains("on the BACKUP feed") {
                Ok(text)
            } else {
                Err(text)
            }
        },
        |text| format!("ballast status never said the backup feed:\n{text}"),
    );
    assert!(text.contains("the primary is stale"), "{text}");
    let h = common::wait_health(&sup, "the backup feed in the health report", |h| {
        h["subsystems"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["name"] == "data_feed"))
            .and_then(|s| s["checks"][0]["detail"].as_str())
            .is_some_and(|d| d.starts_with("on the BACKUP feed"))
    });
    assert_eq!(
        common::report::status(&h, "data_feed"),
        "HEALTHY",
        "the backup's bars are fresh: {h:#}"
    );
    let data = sup.dir.join("data");
    let recs = records(&data);
    assert_eq!(switches(&recs), ["backup"]);
    assert!(
        bar_feeds(&recs).iter().filter(|f| **f == "backup").count() > 0,
        "the backup's bars are traded on"
    );
}
