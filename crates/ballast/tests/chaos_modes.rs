//! Chaos modes (issue 15, item 1) over the real binary: refused in live mode — `ballast check`,
//! `ballast run` (with and without `--live`) and the engine, for `CHAOS_MODE`, `[chaos] modes`
//! and the `BALLAST_CHAOS_*` hooks — and, on a standalone paper engine, each engine-side mode
//! injected at its seam with its designed response: transient → the run goes on and ends
//! with a clean journal; persistent → the engine stops trading, said, with the right class.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::process::text;

const LIVE: &str = "[general]\nmode = \"live\"\n[broker]\nkind = \"alpaca\"\n";

fn ballast(dir: &Path) -> Command {
    let mut c = common::ballast();
    c.current_dir(dir)
        .env_remove("CHAOS_MODE")
        .env_remove("BALLAST_CHAOS_CRASH_AFTER_SEQ")
        .env_remove("BALLAST_CHAOS_LOST_REPLY_EVERY")
        .env_remove("BALLAST_CHAOS_FEED_STALL")
        .env_remove("BALLAST_CHAOS_STALL_BEFORE_SEND_MS");
    c
}

fn said(out: &Output) -> String {
    text(&out.stdout) + &text(&out.stderr)
}

fn assert_refused(out: &Output, modes: &str) {
    let s = said(out);
    assert_eq!(out.status.code(), Some(78), "{s}");
    assert!(s.contains(modes), "names {modes}: {s}");
    assert!(s.contains("refused in live mode"), "{s}");
    assert!(
        s.contains("help:") || s.contains("unset"),
        "says what to do: {s}"
    );
}

#[test]
fn chaos_is_refused_live_by_check_run_and_the_engine_for_the_env_var_and_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(d.join("live.toml"), LIVE).unwrap();
    std::fs::write(
        d.join("live-chaos.toml"),
        format!("{LIVE}[chaos]\nmodes = [\"disk_full\"]\n"),
    )
    .unwrap();
    std::fs::write(d.join("paper.toml"), "").unwrap();
    let env = ("CHAOS_MODE", "broker_down, clock_skew");
    let check = |cfg: &str, env: Option<(&str, &str)>| {
        let mut c = ballast(d);
        c.args(["check", "--config", cfg]);
        if let Some((k, v)) = env {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    assert_refused(&check("live.toml", Some(env)), "broker_down, clock_skew");
    assert_refused(&check("live-chaos.toml", None), "disk_full");
    assert_refused(
        &check("live.toml", Some(("BALLAST_CHAOS_CRASH_AFTER_SEQ", "5"))),
        "BALLAST_CHAOS_CRASH_AFTER_SEQ (engine_crash)",
    );
    // The same configuration without chaos is not refused for chaos; in paper mode chaos runs,
    // said by check.
    assert!(!said(&check("live.toml", None)).contains("chaos"));
    let paper = check("paper.toml", Some(env));
    assert_eq!(paper.status.code(), Some(0), "{}", said(&paper));
    assert!(said(&paper).contains("CHAOS: modes broker_down, clock_skew active"));
    // `run` on a live configuration, `run --live` on a paper one with chaos, the engine: all
    // refused before anything starts (no data directory made).
    let run = |args: &[&str], env: (&str, &str)| {
        let mut c = ballast(d);
        c.args(args).env(env.0, env.1);
        common::process::run_within(&mut c, std::time::Duration::from_secs(60)).expect("ends")
    };
    let data = |name: &str| d.join(name).display().to_string();
    let (a, b, c) = (data("a"), data("b"), data("c"));
    assert_refused(
        &run(
            &["run", "--live", "--config", "live.toml", "--data-dir", &a],
            env,
        ),
        "broker_down, clock_skew",
    );
    assert_refused(
        &run(
            &["run", "--live", "--config", "paper.toml", "--data-dir", &b],
            env,
        ),
        "broker_down, clock_skew",
    );
    assert_refused(
        &run(
            &[
                "engine",
                "--standalone",
                "--config",
                "live-chaos.toml",
                "--data-dir",
                &c,
            ],
            env,
        ),
        "disk_full",
    );
    for x in [&a, &b, &c] {
        assert!(!Path::new(x).exists(), "{x}: nothing was started");
    }
    // An unknown name is refused naming the valid ones.
    let bad = check("paper.toml", Some(("CHAOS_MODE", "broker_dwn")));
    assert_eq!(bad.status.code(), Some(78));
    assert!(said(&bad).contains("\"broker_dwn\""), "{}", said(&bad));
    assert!(said(&bad).contains("broker_down, invalid_creds, slow_broker"));
}

/// A standalone paper engine on `data` with `chaos` (CHAOS_MODE) and `[chaos]` knobs, for
/// `bars` bars as fast as it goes.
fn engine(data: &Path, chaos: &str, knobs: &str, bars: u32) -> Output {
    let cfg = data.with_extension("toml");
    std::fs::write(&cfg, format!("[chaos]\n{knobs}\n")).unwrap();
    let mut c = ballast(data.parent().unwrap());
    c.args([
        "engine",
        "--standalone",
        "--bars-per-second",
        "0",
        "--max-bars",
    ])
    .arg(bars.to_string())
    .arg("--data-dir")
    .arg(data)
    .arg("--config")
    .arg(&cfg)
    .env("CHAOS_MODE", chaos);
    // `output` drains both pipes while it runs (a chaos run's log can be long); every run is
    // bounded by --max-bars.
    c.output().unwrap()
}

/// `ballast journal verify` passes on `data`.
fn verifies(data: &Path) {
    let out = ballast(data.parent().unwrap())
        .args(["journal", "verify", "--data-dir"])
        .arg(data)
        .output()
        .unwrap();
    assert!(out.status.success(), "journal verify: {}", said(&out));
}

fn count(data: &Path, kind: &str, body_has: &str) -> usize {
    common::journal::engine_records(data)
        .iter()
        .filter(|(k, b)| k == kind && b.contains(body_has))
        .count()
}

#[test]
fn transient_broker_modes_are_met_and_the_run_goes_on_with_a_clean_journal() {
    let tmp = tempfile::tempdir().unwrap();
    // broker_down: sends into the outage are unknown outcomes, settled by lookups once it
    // answers again; trading goes on (fills after the outage).
    let data = tmp.path().join("down");
    let out = engine(&data, "broker_down", "outage_calls = 6\nseed = 3", 1500);
    common::process::assert_ok(&out);
    let s = said(&out);
    assert!(
        s.contains("CHAOS: modes broker_down active (seed 3)"),
        "{s}"
    );
    assert!(s.contains("chaos broker_down"), "{s}");
    assert!(count(&data, "order.sent", "chaos broker_down") >= 1, "{s}");
    assert!(count(&data, "order.settle", "") >= 1, "looked up");
    assert!(
        count(&data, "order.sent", "\"outcome\":\"accepted\"") >= 5,
        "sends go on"
    );
    verifies(&data);
    // rate_limited + slow_broker + lost_reply + partial_fills + clock_skew together.
    let data = tmp.path().join("mixed");
    let out = engine(
        &data,
        "rate_limited,slow_broker,lost_reply,partial_fills,clock_skew",
        "every = 3\nslow_ms = 1",
        1500,
    );
    common::process::assert_ok(&out);
    let s = said(&out);
    assert!(s.contains("429 Too Many Requests"), "{s}");
    let injected = s
        .lines()
        .find(|l| l.contains("chaos: injected over"))
        .unwrap_or_else(|| panic!("the run says what it met: {s}"));
    for m in ["rate_limited", "slow_broker", "partial_fills"] {
        assert!(injected.contains(m), "{m}: {injected}");
    }
    assert!(
        count(&data, "order.sent", "\"outcome\":\"unknown\"") >= 1,
        "lost replies"
    );
    assert!(count(&data, "order.sent", "\"outcome\":\"accepted\"") >= 5);
    verifies(&data);
}

#[test]
fn persistent_broker_modes_stop_trading_with_their_class() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("creds");
    let out = engine(&data, "invalid_creds", "", 1500);
    let s = said(&out);
    assert_eq!(
        out.status.code(),
        Some(78),
        "FAILED_CONFIG, no restart loop: {s}"
    );
    assert!(s.contains("FAILED_CONFIG") && s.contains("401"), "{s}");
    assert_eq!(count(&data, "order.sent", ""), 0, "nothing was sent");
    verifies(&data);
    // Lifted (the keys fixed), the same data directory trades.
    common::process::assert_ok(&engine(&data, "", "", 1500));
    assert!(count(&data, "order.sent", "\"outcome\":\"accepted\"") >= 5);

    let data = tmp.path().join("drift");
    let out = engine(&data, "schema_drift", "every = 1", 1500);
    let s = said(&out);
    common::process::assert_ok(&out);
    assert!(
        s.contains("CRITICAL") && s.contains("FAILED_API_SCHEMA"),
        "{s}"
    );
    assert!(s.contains("field \"status\""), "{s}");
    assert!(
        count(&data, "order.sent", "\"outcome\":\"accepted\"") == 0,
        "{s}"
    );
    verifies(&data);
}

#[test]
fn engine_crash_aborts_once_at_a_seeded_record_and_the_restart_recovers() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("crash");
    let first = engine(
        &data,
        "engine_crash",
        "crash_after_records = 30\nseed = 1",
        600,
    );
    assert!(!first.status.success(), "it crashed: {}", said(&first));
    let s = said(&first);
    assert!(s.contains("chaos: crashing right after seq"), "{s}");
    let at = ballast_core::chaos::schedule::crash_seq(1, 30);
    assert!(s.contains(&format!("seq {at}")), "the seeded seq {at}: {s}");
    let second = engine(
        &data,
        "engine_crash",
        "crash_after_records = 30\nseed = 1",
        600,
    );
    common::process::assert_ok(&second);
    assert!(said(&second).contains("recovered:"));
    verifies(&data);
}

#[test]
fn a_torn_journal_tail_and_a_corrupt_snapshot_are_healed_at_the_start() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("heal");
    common::process::assert_ok(&engine(&data, "", "", 600));
    let out = engine(&data, "journal_torn_tail,state_corrupt", "", 900);
    common::process::assert_ok(&out);
    let s = said(&out);
    assert!(s.contains("chaos: journal_torn_tail: cut the last"), "{s}");
    assert!(s.contains("chaos: state_corrupt: flipped byte"), "{s}");
    assert!(s.contains("heal:"), "recovery healed: {s}");
    let quarantined = std::fs::read_dir(data.join("quarantine"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert!(quarantined >= 1, "what was cut is in quarantine/: {s}");
    // Once per data directory: the next start tears nothing.
    let again = engine(&data, "journal_torn_tail,state_corrupt", "", 1000);
    common::process::assert_ok(&again);
    assert!(!said(&again).contains("cut the last"));
    verifies(&data);
}

#[test]
fn a_full_disk_stops_the_engine_before_anything_it_could_not_journal() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("full");
    let out = engine(&data, "disk_full", "disk_full_after_writes = 60", 1500);
    let s = said(&out);
    assert!(!out.status.success(), "{s}");
    assert!(s.contains("ENOSPC") && s.contains("chaos disk_full"), "{s}");
    verifies(&data);
    // Space again (the mode lifted): the engine recovers what was durable and trades on.
    let again = engine(&data, "", "", 1500);
    common::process::assert_ok(&again);
    assert!(said(&again).contains("recovered:"));
    assert!(count(&data, "order.sent", "\"outcome\":\"accepted\"") >= 1);
    verifies(&data);
}

/// GET `path` of `base` (HTTP/1.0 on 127.0.0.1) with the viewer's token: status and body.
fn get(base: &str, path: &str, token: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let host = base.strip_prefix("http://").unwrap();
    let mut s = std::net::TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    (
        head.split(' ').nth(1).unwrap().parse().unwrap(),
        body.to_owned(),
    )
}

#[test]
fn every_active_mode_is_visible_in_health_metrics_status_the_log_and_the_dashboard() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let sup = common::Sup::start_with_env(
        &dir,
        "[feed]\nbars_per_second = 50\n[chaos]\nmodes = [\"partial_fills\"]\n",
        &[("CHAOS_MODE", "lost_reply")],
    );
    // Health: a critical "chaos" subsystem, DEGRADED, naming the modes: the overall status
    // is not HEALTHY while chaos runs.
    let h = common::wait_health(&sup, "the chaos check", |h| {
        h["subsystems"].as_array().is_some_and(|s| {
            s.iter()
                .any(|x| x["name"] == "chaos" && x["status"] == "DEGRADED")
        })
    });
    let chaos = h["subsystems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "chaos")
        .unwrap()
        .to_string();
    assert!(chaos.contains("partial_fills, lost_reply"), "{chaos}");
    assert_ne!(h["overall"], "HEALTHY", "{h}");
    // The engine's heartbeat carries them: metrics and `ballast status`.
    let (base, _, viewer) = common::surfaces::api_of(&dir.join("data"));
    let metrics = common::wait::until(
        std::time::Duration::from_secs(60),
        || {
            let (code, body) = get(&base, "/metrics", &viewer);
            match code == 200 && body.contains("ballast_chaos_active{mode=\"partial_fills\"} 1") {
                true => Ok(body),
                false => Err(body),
            }
        },
        |body| format!("no ballast_chaos_active in /metrics: {body}"),
    );
    assert!(metrics.contains("ballast_chaos_active{mode=\"lost_reply\"} 1"));
    let status = sup.cli(&["status"]);
    let said = said(&status);
    assert!(
        said.contains(
            "CHAOS: the engine injects faults on purpose: modes partial_fills, lost_reply"
        ),
        "{said}"
    );
    // The dashboard has the banner that shows the chaos check's words.
    let (_, page) = get(&base, "/", &viewer);
    assert!(page.contains("id=\"chaos-banner\""), "{page}");
    let (_, js) = get(&base, "/assets/view.js", &viewer);
    assert!(js.contains("renderChaos") && js.contains("\"chaos\""));
    sup.stop();
    let log = std::fs::read_to_string(dir.join("data/logs/engine.log")).unwrap_or_default();
    assert!(
        log.contains("CHAOS: modes partial_fills, lost_reply active"),
        "{log}"
    );
}

#[test]
fn port_conflict_the_api_takes_the_next_port_and_says_which() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("port");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let p = port.to_string();
    let sup = common::Sup::start_with_env(
        &dir,
        "[chaos]\nmodes = [\"port_conflict\"]\n",
        &[("BALLAST_API__PORT", p.as_str())],
    );
    let (base, _, viewer) = common::surfaces::api_of(&dir.join("data"));
    let bound: u16 = base.rsplit(':').next().unwrap().parse().unwrap();
    assert!(
        bound > port && bound <= port + 3,
        "{port} taken: bound {bound}"
    );
    assert_eq!(get(&base, "/v1/health", &viewer).0, 200);
    sup.stop();
    let err = std::fs::read_to_string(dir.join("supervisor.err")).unwrap();
    assert!(
        err.contains(&format!("chaos: port_conflict: 127.0.0.1:{port} is taken")),
        "{err}"
    );
}

#[test]
fn supervisor_crash_aborts_the_supervisor_its_engine_halts_and_a_restart_recovers() {
    use std::os::unix::process::ExitStatusExt;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("sup");
    let cfg = "[feed]\nbars_per_second = 50\n";
    let mut sup = common::Sup::start_with_env(
        &dir,
        &format!("{cfg}[chaos]\nmodes = [\"supervisor_crash\"]\nsupervisor_crash_after_secs = 3\n"),
        &[],
    );
    let engine_pid = common::Sup::service(
        &sup.wait_for("the engine", |s| common::state(s, "engine") == "RUNNING"),
        "engine",
    )["pid"]
        .as_i64()
        .unwrap() as i32;
    let status = sup.child.wait().unwrap();
    assert_eq!(status.signal(), Some(6), "aborted (SIGABRT): {status:?}");
    // Its engine sees the parent's death and stops, state persisted.
    common::wait::until(
        std::time::Duration::from_secs(30),
        || (!common::alive(engine_pid)).then_some(()).ok_or(()),
        |()| format!("the engine (pid {engine_pid}) outlived its supervisor"),
    );
    let err = std::fs::read_to_string(dir.join("supervisor.err")).unwrap();
    assert!(
        err.contains("chaos: supervisor_crash: aborting now"),
        "{err}"
    );
    // Whoever runs the supervisor starts it again (here without the mode): it recovers.
    let sup = common::Sup::start_with_env(&dir, cfg, &[]);
    sup.wait_for("the engine again", |s| {
        common::state(s, "engine") == "RUNNING"
    });
    sup.stop();
    verifies(&dir.join("data"));
}

#[test]
fn stale_feed_stops_the_primary_and_the_declared_backup_takes_over() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("stale");
    let out = engine(
        &data,
        "stale_feed",
        "stale_after_bars = 20\n[feed.backup]\nkind = \"synthetic\"\nstale_secs = 1\n",
        300,
    );
    common::process::assert_ok(&out);
    let switches: Vec<String> = common::journal::engine_records(&data)
        .into_iter()
        .filter(|(k, _)| k == "feed.switch")
        .map(|(_, b)| b)
        .collect();
    assert!(
        switches
            .first()
            .is_some_and(|b| b.contains("\"to\":\"backup\"")),
        "{switches:?}\n{}",
        said(&out)
    );
    verifies(&data);
}

/// Orders filled in more than one part (`market.bar` fills per `client_order_id`).
fn split_orders(data: &Path) -> usize {
    let mut parts = std::collections::BTreeMap::<String, usize>::new();
    for (k, b) in common::journal::engine_records(data) {
        if k != "market.bar" {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(&b).unwrap();
        for f in v["fills"].as_array().into_iter().flatten() {
            *parts
                .entry(f["client_order_id"].as_str().unwrap_or("?").to_owned())
                .or_default() += 1;
        }
    }
    parts.values().filter(|n| **n > 1).count()
}

#[test]
fn partial_fills_split_orders_the_calm_venue_fills_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let calm = tmp.path().join("calm");
    common::process::assert_ok(&engine(&calm, "", "", 1500));
    let split = tmp.path().join("split");
    common::process::assert_ok(&engine(&split, "partial_fills", "every = 1", 1500));
    let (before, after) = (split_orders(&calm), split_orders(&split));
    assert!(
        after >= 5 && after > before,
        "split orders: calm {before}, chaos {after}"
    );
    verifies(&split);
}

#[test]
fn a_standalone_engine_s_health_names_its_chaos_modes() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("alone");
    let mut child = ballast(tmp.path())
        .args([
            "engine",
            "--standalone",
            "--bars-per-second",
            "50",
            "--data-dir",
        ])
        .arg(&data)
        .env("CHAOS_MODE", "slow_broker")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (base, _, viewer) = common::surfaces::api_of(&data);
    let body = common::wait::until(
        std::time::Duration::from_secs(30),
        || match get(&base, "/v1/health", &viewer) {
            (200, b) => Ok(b),
            (_, b) => Err(b),
        },
        |b| format!("no health answer: {b}"),
    );
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["chaos"], serde_json::json!(["slow_broker"]), "{body}");
    common::process::sigterm(&child);
    assert!(child.wait().unwrap().success());
}
