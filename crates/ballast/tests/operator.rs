//! What a new operator meets in the first hour (issue 10, part D): the `ballast` binary run as
//! a real process with careless input — a mistyped data directory, a live configuration, a
//! `ballast.toml` in the working directory, a closed pipe, unknown names.

mod common;

use std::process::{Command, Stdio};

use common::Sup;
use common::process::{ballast_in as ballast, text};

const PAPER_NO_ENGINE: &str = "[engine]\nenabled = false\n\n[[services]]\nname = \"bot\"\ncommand = \"sleep\"\nargs = [\"600\"]\n";

// --- item 15: control commands on a data directory that is not one ----------------------------

#[test]
fn item_15_control_commands_refuse_a_data_directory_that_does_not_exist_naming_how_it_was_chosen() {
    let tmp = tempfile::tempdir().unwrap();
    for cmd in [
        &["kill"][..],
        &["resume"],
        &["status"],
        &["health"],
        &["restart", "engine"],
        &["reset", "engine"],
        &["approve", "x"],
        &["reject", "x"],
        &["logs"],
    ] {
        // A mistyped --data-dir.
        let mut args = cmd.to_vec();
        args.extend(["--data-dir", "ballast-dta"]);
        let out = ballast(&args, tmp.path());
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{cmd:?}: {err}");
        let looked = tmp.path().join("ballast-dta");
        assert!(
            err.contains(&looked.display().to_string()) && err.contains("--data-dir"),
            "{cmd:?} names the absolute path and where it came from: {err}"
        );
        assert!(err.contains("does not exist"), "{cmd:?}: {err}");
        assert!(!err.contains("ENGAGED"), "{cmd:?}: {err}");
        assert!(!looked.exists(), "{cmd:?} created nothing");
        // The default, relative to the working directory.
        let out = ballast(cmd, tmp.path());
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{cmd:?}: {err}");
        assert!(
            err.contains("default") && err.contains("ballast-data"),
            "{cmd:?}: {err}"
        );
        assert!(!tmp.path().join("ballast-data").exists(), "{cmd:?}");
    }
    // `heal` does not make a fresh data directory out of a mistyped one.
    let out = ballast(&["heal", "--data-dir", "ballast-dta"], tmp.path());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("does not exist"),
        "{}",
        text(&out.stderr)
    );
    assert!(!tmp.path().join("ballast-dta").exists());
    // BALLAST_HOME is named as such.
    let out = common::ballast()
        .args(["kill"])
        .env("BALLAST_HOME", tmp.path().join("nowhere"))
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("BALLAST_HOME"),
        "{}",
        text(&out.stderr)
    );
    assert!(!tmp.path().join("nowhere/KILL_SWITCH").exists());
    // A directory that exists but was never initialised (no journal/).
    std::fs::create_dir(tmp.path().join("empty")).unwrap();
    let out = ballast(&["kill", "--data-dir", "empty"], tmp.path());
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("never been initialised") && err.contains("journal"),
        "{err}"
    );
    assert!(!tmp.path().join("empty/KILL_SWITCH").exists());
}

#[test]
fn item_15_kill_on_an_initialised_data_directory_still_engages() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("d/journal")).unwrap();
    let out = ballast(&["kill", "--data-dir", "d"], tmp.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    // No engine runs: said as a request the engine engages at its start, not as ENGAGED.
    assert!(
        text(&out.stdout).contains("kill switch requested"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stdout).contains("No engine runs now"),
        "{}",
        text(&out.stdout)
    );
    assert!(tmp.path().join("d/KILL_SWITCH").exists());
    let out = ballast(&["resume", "--data-dir", "d"], tmp.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!tmp.path().join("d/KILL_SWITCH").exists());
}

// --- item 19: ./ballast.toml is the configuration; `ballast config show` ------------------------

#[test]
fn item_19_a_ballast_toml_in_the_working_directory_is_used_without_config() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("ballast.toml"),
        "[general]\ndata_dir = \"from-toml\"\n\n[guard]\nmax_notional_per_order_usd = 1234\n",
    )
    .unwrap();
    let out = ballast(&["check"], tmp.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("ballast.toml: OK"),
        "check names the file in use: {}",
        text(&out.stdout)
    );
    let out = ballast(&["config", "show"], tmp.path());
    let shown = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(shown.contains("ballast.toml"), "{shown}");
    assert!(
        shown
            .lines()
            .any(|l| l.contains("max_notional_per_order_usd")
                && l.contains("1234")
                && l.contains("ballast.toml:5")),
        "each value with its origin: {shown}"
    );
    assert!(
        shown
            .lines()
            .any(|l| l.contains("max_open_orders") && l.contains("default")),
        "{shown}"
    );
    // The environment wins and says so.
    let out = common::ballast()
        .args(["config", "show"])
        .env("BALLAST_GUARD__MAX_NOTIONAL_PER_ORDER_USD", "999")
        .current_dir(tmp.path())
        .output()
        .unwrap();
    let shown = text(&out.stdout);
    assert!(
        shown
            .lines()
            .any(|l| l.contains("max_notional_per_order_usd")
                && l.contains("999")
                && l.contains("BALLAST_GUARD__MAX_NOTIONAL_PER_ORDER_USD")),
        "{shown}"
    );
    // `ballast run` uses it too: the data directory it names is the one created.
    let mut run = common::ballast()
        .args(["run"])
        .current_dir(tmp.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !tmp.path().join("from-toml/run/supervisor.sock").exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the supervisor used ./ballast.toml"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // `status` (from the same directory, also without --config) says which file is in use.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let out = ballast(&["status"], tmp.path());
        if out.status.success() {
            let s = text(&out.stdout);
            assert!(s.contains("ballast.toml"), "{s}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{}",
            text(&out.stderr)
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    rustix::process::kill_process(
        rustix::process::Pid::from_child(&run),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    run.wait().unwrap();
    assert!(!tmp.path().join("ballast-data").exists());
}

#[test]
fn item_19_config_show_masks_secrets() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("ballast.toml"),
        "[[services]]\nname = \"bot\"\ncommand = \"sleep\"\nenv = { API_SECRET = \"hunter2-very-secret\", LEVEL = \"info\" }\n",
    )
    .unwrap();
    let out = ballast(&["config", "show"], tmp.path());
    let shown = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("API_SECRET"), "{shown}");
    let out = ballast(&["config", "show", "--json"], tmp.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!text(&out.stdout).contains("hunter2"));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["file"].as_str().unwrap().ends_with("ballast.toml"), "{v}");
}

// --- item 16: live mode is refused by `run` itself, and `check` lists what is missing ---------

#[test]
fn item_16_check_lists_every_live_precondition_and_run_refuses_itself() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("live.toml"), "[general]\nmode = \"live\"\n").unwrap();
    let out = ballast(&["check", "--config", "live.toml"], tmp.path());
    let said = text(&out.stdout) + &text(&out.stderr);
    assert_ne!(
        out.status.code(),
        Some(0),
        "a live config that cannot trade is not OK: {said}"
    );
    for pre in ["--live", "credentials", "broker", "reconciliation"] {
        assert!(said.contains(pre), "{pre}: {said}");
    }
    assert!(said.contains("missing"), "{said}");
    // `run` without --live: it says why on its own stderr, the supervisor stays up and the
    // engine is HELD with the reason (principle 1: refuse to trade, keep the surfaces up).
    let sup = Sup::start(&tmp.path().join("a"), "[general]\nmode = \"live\"\n");
    let s = sup.wait_for("the engine held", |s| common::state(s, "engine") == "HELD");
    let why = Sup::service(&s, "engine")["last_exit"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    assert!(
        why.contains("--live") && why.contains("the configured broker is the paper simulator"),
        "{why}"
    );
    let err = std::fs::read_to_string(tmp.path().join("a/supervisor.err")).unwrap();
    assert!(
        err.contains("live trading refused") && err.contains("--live"),
        "{err}"
    );
    sup.stop();
    // `--live` is a real flag: with it, the flag is no longer missing but the broker still is.
    let out = common::ballast()
        .env_remove("APCA_API_KEY_ID")
        .env_remove("APCA_API_SECRET_KEY")
        .args(["run", "--live", "--config", "live.toml", "--data-dir", "b"])
        .current_dir(tmp.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = out.id() as i32;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !tmp.path().join("b/run/supervisor.sock").exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "run --live started the supervisor"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    let out = out.wait_with_output().unwrap();
    let err = text(&out.stderr);
    assert!(!err.contains("unexpected argument"), "{err}");
    assert!(
        err.contains("the configured broker is the paper simulator"),
        "{err}"
    );
    assert!(!err.contains("missing: --live"), "{err}");
    // Each missing condition on a line of its own, the credentials named without a value.
    assert!(
        err.contains(
            "missing: broker credentials: APCA_API_KEY_ID and APCA_API_SECRET_KEY not set"
        ),
        "{err}"
    );
    // `--live` on a paper configuration is refused: asked once is not asked twice.
    let out = ballast(&["run", "--live", "--data-dir", "d"], tmp.path());
    assert_eq!(out.status.code(), Some(78));
    assert!(
        text(&out.stderr).contains("mode = \"live\""),
        "{}",
        text(&out.stderr)
    );
    assert!(!tmp.path().join("d").exists());
}

// --- item 20: small but visible ----------------------------------------------------------------

#[test]
fn item_20_a_closed_pipe_is_not_a_panic() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("d/journal")).unwrap();
    for args in [
        &["completions", "bash"][..],
        &["config", "show"],
        &["journal", "dump", "--data-dir", "d"],
        &["logs", "--data-dir", "d"],
    ] {
        let mut child = common::ballast()
            .args(args)
            .current_dir(tmp.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = text(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(!err.contains("Broken pipe"), "{args:?}: {err}");
    }
}

#[test]
fn item_20_status_json_without_a_supervisor_is_a_json_error_object() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("d/journal")).unwrap();
    let out = ballast(&["status", "--json", "--data-dir", "d"], tmp.path());
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout)));
    assert!(
        v["error"].as_str().unwrap().contains("no supervisor"),
        "{v}"
    );
}

#[test]
fn item_20_journal_dump_refuses_an_unknown_type_listing_the_real_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let out = ballast(
        &[
            "engine",
            "--standalone",
            "--data-dir",
            "d",
            "--max-bars",
            "400",
            "--bars-per-second",
            "0",
        ],
        tmp.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = ballast(
        &[
            "journal",
            "dump",
            "--data-dir",
            "d",
            "--type",
            "order.intent",
        ],
        tmp.path(),
    );
    let err = text(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("order.intent"), "{err}");
    assert!(
        err.contains("market.bar") && err.contains("engine.decision"),
        "{err}"
    );
    let out = ballast(
        &[
            "journal",
            "dump",
            "--data-dir",
            "d",
            "--type",
            "engine.decision",
            "--limit",
            "1",
        ],
        tmp.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("engine.decision"));
    // The ops journal's types are open: one that matched nothing names the ones there.
    let out = ballast(
        &[
            "journal",
            "dump",
            "--ops",
            "--data-dir",
            "d",
            "--type",
            "heal.nothing",
        ],
        tmp.path(),
    );
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).contains("types in it"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn item_20_errors_do_not_repeat_their_cause_and_no_debug_output_reaches_the_user() {
    let tmp = tempfile::tempdir().unwrap();
    // A missing CSV and a corrupt gzip.
    std::fs::write(tmp.path().join("bad.csv.gz"), b"\x1f\x8b\x08\x00garbage").unwrap();
    for data in ["missing.csv", "bad.csv.gz"] {
        let out = ballast(&["backtest", "--data", data], tmp.path());
        let err = text(&out.stderr);
        assert_ne!(out.status.code(), Some(0));
        for line in err.lines() {
            let parts: Vec<&str> = line.split(": ").collect();
            for w in parts.windows(2) {
                assert_ne!(w[0], w[1], "a repeated cause in {line:?}");
            }
        }
    }
    // The engine's summary speaks words, not Debug.
    let out = ballast(
        &[
            "engine",
            "--standalone",
            "--data-dir",
            "d",
            "--max-bars",
            "40",
            "--bars-per-second",
            "0",
        ],
        tmp.path(),
    );
    let said = text(&out.stdout) + &text(&out.stderr);
    assert!(out.status.success(), "{said}");
    for debug in ["{}", "{\"", "Some(", "Order {", "Buy,"] {
        assert!(!said.contains(debug), "{debug} in {said}");
    }
    // `check` does not announce an API nothing serves.
    let out = ballast(&["check"], tmp.path());
    assert!(
        !text(&out.stdout).contains("API on"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn item_20_durations_are_printed_for_people() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("bad.toml"),
        "[[services]]\nname = \"bot\"\ncommand = \"sleep\"\nmax_restarts = 100\nrestart_window_secs = 1\n",
    )
    .unwrap();
    let out = ballast(&["check", "--config", "bad.toml"], tmp.path());
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(!err.contains("000 ms"), "{err}");
}

// --- a supervisor: `status` says which configuration it runs ----------------------------------

#[test]
fn item_19_status_names_the_configuration_in_use() {
    let tmp = tempfile::tempdir().unwrap();
    let sup = Sup::start(tmp.path(), PAPER_NO_ENGINE);
    sup.wait_for("bot RUNNING", |s| common::state(s, "bot") == "RUNNING");
    let out = sup.cli(&["status"]);
    assert!(out.status.success());
    let s = text(&out.stdout);
    assert!(
        s.contains(&tmp.path().join("ballast.toml").display().to_string()),
        "{s}"
    );
    let _ = Command::new("true").status();
    sup.stop();
}

// --- item 18: the trading is visible in `status`; the engine's log speaks words ---------------

#[test]
fn item_18_status_shows_the_trading_from_the_engine_s_own_state() {
    let tmp = tempfile::tempdir().unwrap();
    let sup = Sup::start(tmp.path(), "[feed]\nbars_per_second = 0\n");
    let s = sup.wait_for("positions and decisions", |s| {
        s["engine"]["positions"]
            .as_array()
            .is_some_and(|p| !p.is_empty())
            && s["engine"]["decisions"]
                .as_array()
                .is_some_and(|d| !d.is_empty())
    });
    let e = &s["engine"];
    for key in [
        "equity",
        "cash",
        "gross_exposure",
        "exposure_pct",
        "exposure_cap_pct",
        "day_pnl",
    ] {
        assert!(e[key].is_string(), "{key}: {e}");
    }
    assert_eq!(
        e["exposure_cap_pct"], "25",
        "[risk] max_total_at_risk_pct: {e}"
    );
    let p = &e["positions"][0];
    for key in ["symbol", "qty", "avg_price", "unrealized_pnl"] {
        assert!(!p[key].is_null(), "{key}: {p}");
    }
    assert!(e["positions"].as_array().unwrap().len() <= 20);
    let out = sup.cli(&["status"]);
    let said = text(&out.stdout);
    assert!(out.status.success(), "{said}");
    for words in [
        "equity",
        "day PnL",
        "exposure",
        "% of equity (cap 25 %)",
        "POSITION",
        "UNREALIZED",
        "last decisions",
    ] {
        assert!(said.contains(words), "{words}: {said}");
    }
    // The engine's log says what it did in words, and the per-bar line is debug level.
    let log = std::fs::read_to_string(tmp.path().join("data/logs/engine.log")).unwrap();
    assert!(
        log.lines()
            .any(|l| (l.contains(" bought ") || l.contains(" sold ")) && l.contains(" @ ")),
        "{log}"
    );
    assert!(
        log.lines()
            .any(|l| l.contains("sma_cross") && l.contains("guard approved")),
        "{}",
        &log[..log.len().min(3000)]
    );
    assert!(
        !log.contains("engine: bar "),
        "per-bar lines are debug level"
    );
    sup.stop();
}

// --- item 17: `ballast logs`, and why a service is not running ------------------------------

#[test]
fn item_17_logs_and_the_reason_a_service_stopped() {
    let tmp = tempfile::tempdir().unwrap();
    let sup = Sup::start(
        tmp.path(),
        "[engine]\nenabled = false\n\n[[services]]\nname = \"bot\"\ncommand = \"sh\"\nargs = [\"-c\", \"echo connecting to the exchange; echo 'fatal: API key rejected' >&2; exit 3\"]\nrestart = \"never\"\n",
    );
    sup.wait_for("bot stopped", |s| {
        let st = common::state(s, "bot");
        st != "RUNNING" && st != "STARTING"
    });
    let out = sup.cli(&["status"]);
    let said = text(&out.stdout);
    assert!(
        said.contains("fatal: API key rejected"),
        "status shows the last lines: {said}"
    );
    assert!(said.contains("ballast logs bot"), "{said}");
    let out = sup.cli(&["logs", "bot", "-n", "1"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "fatal: API key rejected");
    let out = sup.cli(&["logs", "supervisor"]);
    assert!(
        text(&out.stdout).contains("bot"),
        "the supervisor's own log: {}",
        text(&out.stdout)
    );
    let out = sup.cli(&["logs"]);
    let all = text(&out.stdout);
    assert!(
        all.contains("bot          | connecting to the exchange"),
        "{all}"
    );
    assert!(all.contains("supervisor   |"), "{all}");
    let out = sup.cli(&["logs", "nosuch"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("bot"),
        "names the logs there: {}",
        text(&out.stderr)
    );
    // -f follows new lines (a child that prints later).
    let mut follow = common::ballast()
        .args(["logs", "supervisor", "-f", "-n", "0", "--data-dir"])
        .arg(tmp.path().join("data"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = follow.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find(|l| l.contains("bot"))
    });
    // Something the supervisor logs after -f started: an operator's restart of the bot.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !reader.is_finished() && std::time::Instant::now() < deadline {
        let _ = sup.cli(&["restart", "bot"]);
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let _ = follow.kill();
    let _ = follow.wait();
    assert!(
        reader.join().unwrap().is_some(),
        "-f printed a line written after it started"
    );
    sup.stop();
}

#[test]
fn item_20_a_service_waiting_for_a_crashed_dependency_is_waiting_in_status_and_health() {
    let tmp = tempfile::tempdir().unwrap();
    let sup = Sup::start(
        tmp.path(),
        "[engine]\nenabled = false\n\n[[services]]\nname = \"my-bot\"\ncommand = \"sh\"\nargs = [\"-c\", \"exit 3\"]\nrestart = \"never\"\n\n[[services]]\nname = \"reporter\"\ncommand = \"sleep\"\nargs = [\"600\"]\ndepends_on = [\"my-bot\"]\n",
    );
    sup.wait_for("reporter waiting", |s| {
        common::state(s, "reporter") == "WAITING (for my-bot)"
    });
    let h = common::wait_health(&sup, "reporter's health", |h| {
        h["subsystems"].as_array().is_some_and(|subs| {
            subs.iter()
                .any(|s| s["name"] == "service:reporter" && s["status"] != "UNKNOWN")
        })
    });
    let sub = h["subsystems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "service:reporter")
        .unwrap()
        .clone();
    assert_eq!(sub["status"], "DEGRADED", "{sub}");
    assert!(sub.to_string().contains("WAITING (for my-bot)"), "{sub}");
    // The control requests name the state as status shows it.
    for (cmd, code) in [("restart", 0), ("reset", 1)] {
        let out = sup.cli(&[cmd, "reporter"]);
        let said = text(&out.stdout) + &text(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{cmd}: {said}");
        assert!(said.contains("WAITING (for my-bot)"), "{cmd}: {said}");
        assert!(!said.contains("STOPPED"), "{cmd}: {said}");
    }
    sup.stop();
}

// --- a mistyped replay file is a configuration error; relative paths are the file's ---------

#[test]
fn item_17_a_missing_replay_file_is_a_configuration_error_not_a_crash_loop() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("ballast.toml"),
        "[feed]\nreplay_file = \"nope.csv\"\n",
    )
    .unwrap();
    let out = ballast(&["check"], tmp.path());
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(
        err.contains("ballast.toml:2:1")
            && err.contains("nope.csv")
            && err.contains("does not exist"),
        "{err}"
    );
    let out = ballast(&["run", "--data-dir", "d"], tmp.path());
    assert_eq!(
        out.status.code(),
        Some(78),
        "refused before anything starts"
    );
    assert!(!tmp.path().join("d").exists());
    // Through the environment (no configuration check can see the file): the engine exits 78,
    // FAILED_CONFIG, not a restart loop.
    let out = common::ballast()
        .args([
            "engine",
            "--standalone",
            "--data-dir",
            "e",
            "--max-bars",
            "5",
        ])
        .env("BALLAST_FEED__REPLAY_FILE", "/nonexistent/bars.csv")
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78), "{}", text(&out.stderr));
}

#[test]
fn relative_paths_written_in_a_configuration_file_are_that_file_s_directory_s() {
    let tmp = tempfile::tempdir().unwrap();
    let conf = tmp.path().join("conf");
    std::fs::create_dir(&conf).unwrap();
    std::fs::write(
        conf.join("bars.csv"),
        "symbol,ts,open,high,low,close,volume\n",
    )
    .unwrap();
    std::fs::write(
        conf.join("ballast.toml"),
        "[general]\ndata_dir = \"data\"\n\n[feed]\nreplay_file = \"bars.csv\"\n",
    )
    .unwrap();
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let out = ballast(
        &[
            "config",
            "show",
            "--json",
            "--config",
            "../conf/ballast.toml",
        ],
        &elsewhere,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let value = |key: &str| {
        v["settings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["key"] == key)
            .map(|s| s["value"].clone())
            .unwrap()
    };
    assert_eq!(
        value("replay_file"),
        conf.join("bars.csv").display().to_string()
    );
    // The data directory too: a control command from elsewhere looks in conf/data.
    std::fs::create_dir_all(conf.join("data/journal")).unwrap();
    let out = ballast(&["kill", "--config", "../conf/ballast.toml"], &elsewhere);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(conf.join("data/KILL_SWITCH").exists());
    assert!(!elsewhere.join("data").exists());
}

// --- item 12: Ballast's own files are read bounded too (a FIFO or a device in their place) --

#[test]
fn item_12_a_fifo_or_a_device_as_the_engine_heartbeat_blocks_no_reader() {
    let tmp = tempfile::tempdir().unwrap();
    let out = engine_30_bars(tmp.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let hb = tmp.path().join("d/run/engine.heartbeat");
    for kind in ["fifo", "device"] {
        let _ = std::fs::remove_file(&hb);
        if kind == "fifo" {
            rustix::fs::mknodat(
                rustix::fs::CWD,
                &hb,
                rustix::fs::FileType::Fifo,
                rustix::fs::Mode::from_raw_mode(0o600),
                0,
            )
            .unwrap();
        } else {
            std::os::unix::fs::symlink("/dev/zero", &hb).unwrap();
        }
        let d = tmp.path().join("d");
        for args in [
            vec!["journal", "verify", "--data-dir"],
            vec!["heal", "--dry-run", "--data-dir"],
            vec!["status", "--data-dir"],
        ] {
            let out = common::output_within(
                common::ballast()
                    .args(&args)
                    .arg(&d)
                    .current_dir(tmp.path()),
                20,
            );
            assert!(
                !text(&out.stderr).contains("panicked"),
                "{kind} {args:?}: {}",
                text(&out.stderr)
            );
        }
        let out = common::output_within(
            common::ballast()
                .args([
                    "engine",
                    "--standalone",
                    "--max-bars",
                    "40",
                    "--bars-per-second",
                    "0",
                    "--data-dir",
                ])
                .arg(&d)
                .current_dir(tmp.path()),
            20,
        );
        assert!(out.status.success(), "{kind}: {}", text(&out.stderr));
    }
}

// --- item 8: the engine and the tools agree on a link inside the data directory -----------

#[test]
fn item_8_the_engine_writes_nothing_through_a_symlinked_journal_or_state_and_the_tools_say_so() {
    let tmp = tempfile::tempdir().unwrap();
    let out = engine_30_bars(tmp.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    for dir in ["journal/engine", "state"] {
        let d = tmp.path().join(format!("d-{}", dir.replace('/', "-")));
        let copy = std::process::Command::new("cp")
            .args(["-a"])
            .arg(tmp.path().join("d"))
            .arg(&d)
            .status()
            .unwrap();
        assert!(copy.success());
        let outside = tmp
            .path()
            .join(format!("outside-{}", dir.replace('/', "-")));
        std::fs::rename(d.join(dir), &outside).unwrap();
        std::os::unix::fs::symlink(&outside, d.join(dir)).unwrap();
        let before = std::process::Command::new("ls")
            .args(["-lR"])
            .arg(&outside)
            .output()
            .unwrap()
            .stdout;
        let ds = d.to_str().unwrap();
        let out = ballast(&["journal", "verify", "--data-dir", ds], tmp.path());
        assert_eq!(out.status.code(), Some(2), "{dir}: {}", text(&out.stdout));
        assert!(
            text(&out.stdout).contains("symbolic link"),
            "{}",
            text(&out.stdout)
        );
        let out = ballast(&["heal", "--dry-run", "--data-dir", ds], tmp.path());
        let said = text(&out.stdout);
        assert!(said.contains("will refuse to start"), "{dir}: {said}");
        let out = ballast(
            &[
                "engine",
                "--standalone",
                "--data-dir",
                ds,
                "--max-bars",
                "60",
                "--bars-per-second",
                "0",
            ],
            tmp.path(),
        );
        assert_eq!(out.status.code(), Some(78), "{dir}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("symbolic link"),
            "{}",
            text(&out.stderr)
        );
        let after = std::process::Command::new("ls")
            .args(["-lR"])
            .arg(&outside)
            .output()
            .unwrap()
            .stdout;
        assert_eq!(before, after, "{dir}: nothing written through the link");
    }
    // `ballast run` refuses too, before it writes its lock or binds its socket through run/.
    let d = tmp.path().join("d");
    let outside = tmp.path().join("outside-run");
    std::fs::rename(d.join("run"), &outside).unwrap();
    std::os::unix::fs::symlink(&outside, d.join("run")).unwrap();
    let out = common::output_within(
        common::ballast()
            .args(["run", "--data-dir"])
            .arg(&d)
            .current_dir(tmp.path()),
        20,
    );
    assert_eq!(out.status.code(), Some(78), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("symbolic link"),
        "{}",
        text(&out.stderr)
    );
    assert!(!outside.join("supervisor.lock").exists() && !outside.join("supervisor.sock").exists());
}

// --- the kill switch with a running engine: `ballast resume` once is enough -----------------

#[test]
fn resume_right_after_kill_releases_the_switch_and_the_policy_in_one_go() {
    let tmp = tempfile::tempdir().unwrap();
    let sup = Sup::start(
        tmp.path(),
        &format!("{}\n[feed]\nbars_per_second = 200\n", common::FAST_HEALTH),
    );
    sup.wait_for("the engine running", |s| {
        common::state(s, "engine") == "RUNNING"
    });
    let out = sup.cli(&["kill"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    common::wait_health(&sup, "EMERGENCY_SHUTDOWN", |h| {
        h["policy"]["policy"] == "EMERGENCY_SHUTDOWN"
    });
    let out = sup.cli(&["resume"]);
    assert!(
        out.status.success(),
        "one resume releases both: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        !text(&out.stderr).contains("releases it first"),
        "{}",
        text(&out.stderr)
    );
    common::wait_health(&sup, "the policy released", |h| {
        h["policy"]["policy"] != "EMERGENCY_SHUTDOWN"
    });
    sup.stop();
}

#[test]
fn item_12_a_fifo_or_a_link_in_place_of_a_segment_hangs_nothing_and_the_tools_agree_with_the_engine()
 {
    let tmp = tempfile::tempdir().unwrap();
    let out = ballast(
        &[
            "engine",
            "--standalone",
            "--data-dir",
            "base",
            "--max-bars",
            "40",
            "--bars-per-second",
            "0",
        ],
        tmp.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let seg = "journal/engine/00000000000000000001.jsonl";
    for (case, make) in [
        ("fifo", 0),
        ("segment link", 1),
        ("quarantine/journal link", 2),
    ] {
        let d = tmp.path().join(case.replace([' ', '/'], "-"));
        assert!(
            Command::new("cp")
                .arg("-a")
                .arg(tmp.path().join("base"))
                .arg(&d)
                .status()
                .unwrap()
                .success()
        );
        match make {
            0 => {
                std::fs::rename(d.join(seg), tmp.path().join("seg.real")).unwrap();
                rustix::fs::mknodat(
                    rustix::fs::CWD,
                    d.join(seg),
                    rustix::fs::FileType::Fifo,
                    rustix::fs::Mode::from_raw_mode(0o600),
                    0,
                )
                .unwrap();
            }
            1 => {
                let real = tmp.path().join("seg-link-target.jsonl");
                std::fs::rename(d.join(seg), &real).unwrap();
                std::os::unix::fs::symlink(&real, d.join(seg)).unwrap();
            }
            _ => {
                let outside = tmp.path().join("outside-q");
                std::fs::create_dir_all(&outside).unwrap();
                std::fs::create_dir_all(d.join("quarantine")).unwrap();
                std::os::unix::fs::symlink(&outside, d.join("quarantine/journal")).unwrap();
            }
        }
        let verify = common::output_within(
            common::ballast()
                .args(["journal", "verify", "--data-dir"])
                .arg(&d),
            20,
        );
        let plan = common::output_within(
            common::ballast()
                .args(["heal", "--dry-run", "--data-dir"])
                .arg(&d),
            20,
        );
        let engine = common::output_within(
            common::ballast()
                .args([
                    "engine",
                    "--standalone",
                    "--max-bars",
                    "60",
                    "--bars-per-second",
                    "0",
                    "--data-dir",
                ])
                .arg(&d),
            20,
        );
        assert_eq!(
            verify.status.code(),
            Some(2),
            "{case}: {}",
            text(&verify.stdout)
        );
        assert!(
            text(&plan.stdout).contains("will refuse to start"),
            "{case}: {}",
            text(&plan.stdout)
        );
        assert!(!engine.status.success(), "{case}: the engine refuses");
        let said = text(&engine.stderr);
        assert!(
            said.contains("FIFO") || said.contains("symbolic link"),
            "{case}: says what it is: {said}"
        );
    }
}

#[test]
fn heal_makes_no_data_directory_out_of_a_file_or_a_directory_of_something_else() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("afile"), "x").unwrap();
    std::fs::create_dir(tmp.path().join("home")).unwrap();
    std::fs::write(tmp.path().join("home/notes.txt"), "mine").unwrap();
    for (d, says) in [
        ("afile", "is not a directory"),
        ("home", "is not a Ballast data directory"),
    ] {
        let out = ballast(&["heal", "--data-dir", d], tmp.path());
        assert_eq!(out.status.code(), Some(1), "{d}");
        assert!(
            text(&out.stderr).contains(says),
            "{d}: {}",
            text(&out.stderr)
        );
    }
    assert!(!tmp.path().join("home/journal").exists());
    // An empty directory is a new data directory: healed into one.
    std::fs::create_dir(tmp.path().join("new")).unwrap();
    let out = ballast(&["heal", "--data-dir", "new"], tmp.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(tmp.path().join("new/journal").is_dir());
}

// --- round 3: the policy file while a supervisor runs, and a cloned data directory ---------

#[test]
fn item_2_a_replaced_policy_file_is_written_again_and_a_clone_s_release_lowers_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a");
    let config = format!(
        "{}{}",
        common::FAST_HEALTH,
        common::failing_critical_service(&dir)
    );
    let sup = Sup::start(&dir, &config);
    common::wait_health(&sup, "EMERGENCY_SHUTDOWN", |h| {
        h["policy"]["policy"] == "EMERGENCY_SHUTDOWN"
    });
    let data = dir.join("data");
    let file = data.join("state/policy.json");
    // The engine journaled it (the policy it trades under).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let out = sup.cli(&["journal", "dump", "--type", "engine.policy"]);
        if text(&out.stdout).contains("EMERGENCY_SHUTDOWN") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the engine never journaled it"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // A replaced ALLOW_ALL of this very journal that no operator released: the engine never
    // follows it (so the state the rest of the test starts from does not depend on whether the
    // engine read it before the supervisor wrote its own again), and the supervisor restores
    // its own.
    let mut forged = ballast_core::policy::PolicyState::new(ballast_core::Timestamp::EPOCH);
    forged.reason = "forged".into();
    forged.journal = ballast_store::journal::identity(&data.join("journal/engine"));
    std::fs::write(&file, ballast_core::policy::encode_file(&forged)).unwrap();
    // The supervisor writes its own again within a cycle or so.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        if text.contains("EMERGENCY_SHUTDOWN") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not restored: {text}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    sup.stop();
    // A clone of the data directory (cp -a) is another journal: a release there, copied back,
    // lowers nothing here.
    let clone = tmp.path().join("clone");
    assert!(
        Command::new("cp")
            .arg("-a")
            .arg(&data)
            .arg(&clone)
            .status()
            .unwrap()
            .success()
    );
    let here = ballast_store::journal::identity(&data.join("journal/engine"));
    let there = ballast_store::journal::identity(&clone.join("journal/engine"));
    assert!(
        here.is_some() && there.is_some() && here != there,
        "{here:?} {there:?}"
    );
    let mut released = forged.clone();
    released.journal = there;
    released.releases = 1;
    std::fs::write(&file, ballast_core::policy::encode_file(&released)).unwrap();
    let out = common::ballast()
        .args([
            "engine",
            "--standalone",
            "--max-bars",
            "50",
            "--bars-per-second",
            "0",
            "--data-dir",
        ])
        .arg(&data)
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert!(err.contains("not written for this data directory"), "{err}");
    assert!(!err.contains("-> ALLOW_ALL"), "{err}");
}

/// A standalone engine of 30 bars, as fast as the feed goes, on the data directory `d` in `cwd`.
fn engine_30_bars(cwd: &std::path::Path) -> std::process::Output {
    ballast(
        &[
            "engine",
            "--standalone",
            "--data-dir",
            "d",
            "--max-bars",
            "30",
            "--bars-per-second",
            "0",
        ],
        cwd,
    )
}
