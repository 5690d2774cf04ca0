//! The engine as a real process: it trades the bundled data on the paper broker, and after
//! kill -9 at arbitrary moments and restarts it continues from exactly the same state — its
//! journal ends up record for record the same as that of an uninterrupted run: no lost or
//! duplicate bar, no lost or duplicate decision, no duplicate order.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use common::journal::engine_records as live_records;
use common::process::sigterm;

const TOTAL_BARS: u64 = 1_500;

use common::engine_cmd as engine;

/// The engine with lost replies: the paper venue's answer to one send in three is lost, so
/// orders go through the unknown-outcome path (lookup by `client_order_id`, resend if the venue
/// never got it).
fn chaotic(dir: &Path) -> Command {
    let mut c = engine(dir);
    c.env("BALLAST_CHAOS_LOST_REPLY_EVERY", "3");
    c
}

/// `(type, body)` of every record of the engine journal, which must be clean.
fn records(dir: &Path) -> Vec<(String, String)> {
    let (recs, scan) = common::journal::engine_scan(dir);
    assert_eq!(
        scan.unwrap().verdict,
        ballast_store::journal::Verdict::Clean
    );
    recs.into_iter()
        .map(|(_, kind, body)| (kind, body))
        .collect()
}

#[test]
fn kill_9_and_restart_continue_from_the_same_state_without_duplicate_orders() {
    let tmp = tempfile::tempdir().unwrap();
    let reference = tmp.path().join("reference");
    let out = chaotic(&reference)
        .args(["--max-bars", &TOTAL_BARS.to_string()])
        .output()
        .unwrap();
    common::process::assert_ok(&out);
    let want = records(&reference);
    let orders = want
        .iter()
        .filter(|(k, b)| k == "engine.decision" && b.contains("\"client_order_id\""))
        .count();
    assert!(
        orders >= 20,
        "the engine trades the bundled data: {orders} orders"
    );
    // Some replies were lost; lookups found some orders at the venue and resent others.
    let unknown: Vec<usize> = want
        .iter()
        .enumerate()
        .filter(|(_, (k, b))| k == "order.sent" && b.contains("\"outcome\":\"unknown\""))
        .map(|(i, _)| i)
        .collect();
    let settles = |found: bool| {
        want.iter()
            .filter(|(k, b)| k == "order.settle" && b.contains(&format!("\"found\":{found}")))
            .count()
    };
    assert!(
        unknown.len() >= 3 && settles(true) >= 1 && settles(false) >= 1,
        "unknown {}, found {}, not found {}",
        unknown.len(),
        settles(true),
        settles(false)
    );
    // No order is ever filled beyond its quantity (no duplicate at the venue).
    let mut ordered = std::collections::HashMap::<String, f64>::new();
    let mut filled = std::collections::HashMap::<String, f64>::new();
    for (k, b) in &want {
        let v: serde_json::Value = serde_json::from_str(b).unwrap();
        if k == "engine.decision" {
            if let Some(o) = v.get("order").filter(|o| !o.is_null()) {
                let q: f64 = o["qty"].as_str().unwrap().parse().unwrap();
                ordered.insert(o["client_order_id"].as_str().unwrap().to_owned(), q);
            }
        }
        if k == "market.bar" {
            for f in v["fills"].as_array().unwrap() {
                let q: f64 = f["qty"].as_str().unwrap().parse().unwrap();
                *filled
                    .entry(f["client_order_id"].as_str().unwrap().to_owned())
                    .or_default() += q;
            }
        }
    }
    for (id, q) in &filled {
        if let Some(max) = ordered.get(id) {
            assert!(q <= max, "{id}: filled {q} of {max}");
        }
    }

    let crashed = tmp.path().join("crashed");
    // Crashes exactly between a bar and the decision it calls for (the seqs come from the
    // reference journal): the recovered engine must decide it once, the same way.
    let decision_seqs: Vec<u64> = want
        .iter()
        .enumerate()
        .filter(|(_, (k, _))| k == "engine.decision")
        .map(|(i, _)| i as u64 + 1)
        .collect();
    // And between an unknown outcome and its lookup. In journal order; every run is bounded.
    let mut seqs = vec![
        decision_seqs[0] - 1,
        decision_seqs[5] - 1,
        decision_seqs[5],
        decision_seqs[12] - 1,
        unknown[1] as u64 + 1,
    ];
    seqs.sort_unstable();
    seqs.dedup();
    for seq in seqs {
        let out = chaotic(&crashed)
            .env("BALLAST_CHAOS_CRASH_AFTER_SEQ", seq.to_string())
            .args(["--max-bars", &TOTAL_BARS.to_string()])
            .output()
            .unwrap();
        assert!(!out.status.success(), "the chaos crash happened");
        assert!(
            String::from_utf8_lossy(&out.stderr)
                .contains(&format!("chaos: crashing right after seq {seq}"))
        );
    }
    // And SIGKILL at moments the test does not choose: after some bars of each run (every
    // run is also bounded by --max-bars, so a missed moment cannot hang the test).
    for after_bars in [37u64, 180, 1, 260, 95] {
        let mut child = chaotic(&crashed)
            .args(["--max-bars", &TOTAL_BARS.to_string()])
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let mut seen = 0;
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if line.contains("engine: bar ") {
                seen += 1;
                if seen == after_bars {
                    break;
                }
            }
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }
    let out = chaotic(&crashed)
        .args(["--max-bars", &TOTAL_BARS.to_string()])
        .output()
        .unwrap();
    common::process::assert_ok(&out);
    let got = records(&crashed);
    assert_eq!(got.len(), want.len(), "same number of records");
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "record {} differs", i + 1);
    }
    // And the final states agree.
    let summary = |o: &std::process::Output| String::from_utf8_lossy(&o.stdout).into_owned();
    let again = chaotic(&reference)
        .args(["--max-bars", &TOTAL_BARS.to_string()])
        .output()
        .unwrap();
    assert_eq!(summary(&out), summary(&again));
}

#[test]
fn engine_without_standalone_explains_itself() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ballast"))
        .args(["engine"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--standalone"));
}

#[test]
fn inbox_signals_are_consumed_once_bad_lines_quarantined_partial_lines_wait() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(data.join("inbox")).unwrap();
    let inbox = data.join("inbox/signals.jsonl");
    std::fs::write(
        &inbox,
        concat!(
            "{\"symbol\":\"AAPL\",\"side\":\"buy\",\"qty\":\"3\",\"strategy\":\"my_bot\",\"idempotency_key\":\"mb-1\"}\n",
            "{\"symbol\":\"AAPL\",\"side\":\"buy\",\"qty\":\"oops\"}\n",
            "not json at all\n",
            "{\"symbol\":\"IBM\",\"target_qty\":\"4\",\"reason\":\"rebalance\"}\n",
            "{\"symbol\":\"MSFT\",\"side\":\"buy\",\"qty\":\"2\""
        ),
    )
    .unwrap();
    let out = engine(&data).args(["--max-bars", "30"]).output().unwrap();
    common::process::assert_ok(&out);
    let recs = records(&data);
    let inbox_recs: Vec<&String> = recs
        .iter()
        .filter(|(k, b)| k == "inbox.line" && !b.contains("\"outcome\":\"opened\""))
        .map(|(_, b)| b)
        .collect();
    assert_eq!(
        inbox_recs.len(),
        4,
        "the partial last line waits: {inbox_recs:#?}"
    );
    assert!(inbox_recs[0].contains("\"outcome\":\"accepted\""));
    assert!(
        inbox_recs[1].contains("\"outcome\":\"rejected\"") && inbox_recs[1].contains("\"line\":2")
    );
    assert!(inbox_recs[2].contains("not a signal"));
    let decisions: Vec<&String> = recs
        .iter()
        .filter(|(k, _)| k == "engine.decision")
        .map(|(_, b)| b)
        .collect();
    assert!(
        decisions
            .iter()
            .any(|d| d.contains("\"strategy\":\"my_bot\"") && d.contains("\"client_order_id\"")),
        "{decisions:#?}"
    );
    assert!(
        decisions
            .iter()
            .any(|d| d.contains("\"reason\":\"rebalance\""))
    );
    // Both bad lines, with their numbers, in the one quarantine file of the day.
    let quarantined = inbox_quarantine(&data);
    assert_eq!(quarantined.len(), 1, "{quarantined:?}");
    assert!(quarantined[0].0.starts_with("signals.jsonl.corrupt."));
    assert_eq!(
        String::from_utf8_lossy(&quarantined[0].1),
        "2\t{\"symbol\":\"AAPL\",\"side\":\"buy\",\"qty\":\"oops\"}\n3\tnot json at all\n"
    );

    // The producer finishes its line; a restart consumes it once, and nothing before it again.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&inbox)
        .unwrap();
    std::io::Write::write_all(&mut f, b"}\n").unwrap();
    let out = engine(&data).args(["--max-bars", "31"]).output().unwrap();
    common::process::assert_ok(&out);
    let recs = records(&data);
    let inbox_recs: Vec<&String> = recs
        .iter()
        .filter(|(k, b)| k == "inbox.line" && !b.contains("\"outcome\":\"opened\""))
        .map(|(_, b)| b)
        .collect();
    assert_eq!(inbox_recs.len(), 5);
    assert!(inbox_recs[4].contains("MSFT") && inbox_recs[4].contains("\"line\":5"));
}

#[test]
fn auto_trim_brings_exposure_under_a_lowered_cap_through_the_liquidation_path() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let out = engine(&data).args(["--max-bars", "700"]).output().unwrap();
    common::process::assert_ok(&out);
    let cfg = tmp.path().join("tight.toml");
    std::fs::write(
        &cfg,
        "[guard]\nmax_portfolio_exposure_pct = 1\n[risk]\nmax_total_at_risk_pct = 1\n",
    )
    .unwrap();
    let out = engine(&data)
        .args(["--max-bars", "760", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    common::process::assert_ok(&out);
    let liq: Vec<String> = records(&data)
        .into_iter()
        .filter(|(k, _)| k == "engine.liquidation")
        .map(|(_, b)| b)
        .collect();
    assert!(
        liq.first().is_some_and(
            |b| b.contains("\"action\":\"start\"") && b.contains("\"step\":\"primary\"")
        ),
        "{liq:#?}"
    );
    assert!(
        liq.iter()
            .any(|b| b.contains("\"action\":\"trim_ended\",\"success\":true")),
        "{liq:#?}"
    );
}

#[test]
fn a_live_configuration_is_refused_before_anything_starts() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let out = engine(&data)
        .env("BALLAST_GENERAL__MODE", "live")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing was started"));
    assert!(!data.exists(), "no data directory was created");
}

#[test]
fn changed_paper_settings_are_journaled_and_apply_to_later_fills() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let first = engine(&data).args(["--max-bars", "600"]).output().unwrap();
    assert!(first.status.success());
    let config = tmp.path().join("ballast.toml");
    std::fs::write(&config, "[paper]\nfee_bps = 250\nslippage_bps = 0\n").unwrap();
    let second = engine(&data)
        .args(["--max-bars", "3000", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    common::process::assert_ok(&second);
    assert!(String::from_utf8_lossy(&second.stderr).contains("[paper] settings changed"));
    let recs = records(&data);
    let at = recs
        .iter()
        .position(|(k, _)| k == "paper.settings")
        .expect("a paper.settings record");
    assert!(recs[at].1.contains("\"fee_bps\":\"250\""), "{}", recs[at].1);
    // Fills before it cost 1 bp, after it 250 bp (fee / notional, rounded to cents).
    let bps = |(k, b): &(String, String)| -> Vec<f64> {
        if k != "market.bar" {
            return Vec::new();
        }
        let v: serde_json::Value = serde_json::from_str(b).unwrap();
        v["fills"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                let n = |x: &str| f[x].as_str().unwrap().parse::<f64>().unwrap();
                n("fee") / (n("qty") * n("price")) * 10_000.0
            })
            .collect()
    };
    let before: Vec<f64> = recs[..at].iter().flat_map(bps).collect();
    let after: Vec<f64> = recs[at..].iter().flat_map(bps).collect();
    assert!(!before.is_empty() && !after.is_empty());
    assert!(before.iter().all(|b| *b < 2.0), "{before:?}");
    assert!(after.iter().all(|b| (*b - 250.0).abs() < 1.0), "{after:?}");
    // A restart with the same settings journals nothing new.
    let third = engine(&data)
        .args(["--max-bars", "3000", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(third.status.success());
    assert_eq!(
        records(&data)
            .iter()
            .filter(|(k, _)| k == "paper.settings")
            .count(),
        1
    );
}

#[test]
fn the_built_in_demo_trades_and_the_guard_visibly_rejects_some_signals() {
    let tmp = tempfile::tempdir().unwrap();
    let out = engine(tmp.path())
        .args(["--max-bars", "12154"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let count = |what: &str| -> u64 {
        let before = text
            .split(&format!(" {what},"))
            .next()
            .and_then(|s| s.rsplit(' ').next())
            .unwrap_or("");
        before
            .parse()
            .unwrap_or_else(|_| panic!("{what} in {text}"))
    };
    let (signals, orders) = (count("signals"), count("orders"));
    assert!(signals >= 200, "{text}");
    assert!(
        orders * 10 >= signals * 9 && orders < signals,
        "most signals pass, some do not: {text}"
    );
    assert!(text.contains("cooldown "), "rejected by name: {text}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("-> rejected: cooldown"),
        "and logged with the reason"
    );
    assert!(
        stderr.contains("resized to"),
        "the guard also resizes some orders"
    );
}

#[test]
fn the_kill_switch_halts_trading_survives_a_restart_and_is_released_only_by_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let cli = |args: &[&str]| {
        common::ballast()
            .args(args)
            .arg("--data-dir")
            .arg(&data)
            .output()
            .unwrap()
    };
    // Trade a while, then engage the switch (no engine running: the file is the switch).
    assert!(
        engine(&data)
            .args(["--max-bars", "1500"])
            .output()
            .unwrap()
            .status
            .success()
    );
    let out = cli(&["kill", "--reason", "drill"]);
    common::process::assert_ok(&out);
    assert!(data.join("KILL_SWITCH").is_file());
    let before = records(&data).len();
    // Restart with the switch engaged: journaled once, then every signal refused by it.
    let out = engine(&data).args(["--max-bars", "4000"]).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("KILL SWITCH ENGAGED (drill)"));
    let recs = records(&data);
    let after: Vec<&(String, String)> = recs[before..].iter().collect();
    let kills: Vec<&&(String, String)> = after
        .iter()
        .filter(|(k, _)| k == "engine.kill_switch")
        .collect();
    assert_eq!(kills.len(), 1, "journaled once");
    assert!(kills[0].1.contains("\"engaged\":true") && kills[0].1.contains("drill"));
    let decisions: Vec<&&(String, String)> = after
        .iter()
        .filter(|(k, _)| k == "engine.decision")
        .collect();
    assert!(!decisions.is_empty(), "signals keep coming");
    assert!(
        decisions
            .iter()
            .all(|(_, b)| b.contains("kill_switch") && b.contains("\"order\":null")),
        "every one refused by the kill switch"
    );
    assert!(after.iter().all(|(k, _)| k != "order.sent"), "nothing sent");
    // Another restart: still halted, nothing new journaled about the switch.
    let n = records(&data).len();
    assert!(
        engine(&data)
            .args(["--max-bars", "4500"])
            .output()
            .unwrap()
            .status
            .success()
    );
    let recs = records(&data);
    assert!(recs[n..].iter().all(|(k, _)| k != "engine.kill_switch"));
    assert!(recs[n..].iter().all(|(k, _)| k != "order.sent"));
    // Released only by resume; then trading resumes.
    assert!(cli(&["resume"]).status.success());
    assert!(!data.join("KILL_SWITCH").exists());
    let n = records(&data).len();
    let out = engine(&data).args(["--max-bars", "7000"]).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("kill switch released"));
    let recs = records(&data);
    assert!(
        recs[n..]
            .iter()
            .any(|(k, b)| k == "engine.kill_switch" && b.contains("\"engaged\":false"))
    );
    assert!(
        recs[n..].iter().any(|(k, _)| k == "order.sent"),
        "orders again"
    );
}

#[test]
fn kill_flatten_closes_every_position_at_market_while_trading_stays_halted() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    // Positions per symbol from the fills in the journal.
    let positions = |recs: &[(String, String)]| {
        let mut pos = std::collections::BTreeMap::<String, f64>::new();
        for (k, b) in recs {
            if k != "market.bar" {
                continue;
            }
            let v: serde_json::Value = serde_json::from_str(b).unwrap();
            for f in v["fills"].as_array().unwrap() {
                let q: f64 = f["qty"].as_str().unwrap().parse().unwrap();
                let signed = if f["side"] == "buy" { q } else { -q };
                *pos.entry(f["symbol"].as_str().unwrap().to_owned())
                    .or_default() += signed;
            }
        }
        pos.retain(|_, q| q.abs() > 1e-9);
        pos
    };
    assert!(
        engine(&data)
            .args(["--max-bars", "2000"])
            .output()
            .unwrap()
            .status
            .success()
    );
    assert!(
        !positions(&records(&data)).is_empty(),
        "the demo holds positions"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_ballast"))
        .args([
            "kill",
            "--flatten",
            "--reason",
            "flatten drill",
            "--data-dir",
        ])
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success());
    let out = engine(&data).args(["--max-bars", "2100"]).output().unwrap();
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("being closed at market"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recs = records(&data);
    assert!(positions(&recs).is_empty(), "flat: {:?}", positions(&recs));
    let k = recs
        .iter()
        .find(|(k, _)| k == "engine.kill_switch")
        .unwrap();
    assert!(
        k.1.contains("\"flatten\":true") && k.1.contains("bl-ks-"),
        "{}",
        k.1
    );
}

#[test]
fn the_engine_follows_the_safety_policy_journals_it_and_keeps_it_across_restarts() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let set_policy = |policy: &str| write_policy(&data, policy, 0);
    let run = |bars: u32| {
        let out = engine(&data)
            .args(["--max-bars", &bars.to_string()])
            .output()
            .unwrap();
        common::process::assert_ok(&out);
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    run(2000);
    // DEFENSIVE_EXIT: reducing only, and the riskiest positions closed at market.
    set_policy("DEFENSIVE_EXIT");
    let n = records(&data).len();
    let err = run(2300);
    assert!(
        err.contains("safety policy ALLOW_ALL -> DEFENSIVE_EXIT"),
        "{err}"
    );
    let recs = records(&data);
    let after = &recs[n..];
    let pol: Vec<&(String, String)> = after.iter().filter(|(k, _)| k == "engine.policy").collect();
    assert_eq!(pol.len(), 1, "journaled once");
    assert!(pol[0].1.contains("bl-pol-"), "closing orders: {}", pol[0].1);
    // The demo strategy is long only: an order that reduces is an exit (target 0).
    let mut refused = 0;
    for (_, b) in after.iter().filter(|(k, _)| k == "engine.decision") {
        let v: serde_json::Value = serde_json::from_str(b).unwrap();
        if v["order"].is_null() {
            refused += usize::from(b.contains("trading_state"));
        } else {
            assert_eq!(v["target_qty"], "0", "only reducing orders pass: {b}");
        }
    }
    assert!(refused > 0, "entries are refused by the trading state");
    // The file goes away (a restart, a lost state dir): the journaled policy stays in force.
    std::fs::remove_file(data.join("state/policy.json")).unwrap();
    let n = records(&data).len();
    run(2600);
    let recs = records(&data);
    assert!(recs[n..].iter().all(|(k, _)| k != "engine.policy"));
    for (_, b) in recs[n..].iter().filter(|(k, _)| k == "engine.decision") {
        let v: serde_json::Value = serde_json::from_str(b).unwrap();
        assert!(v["order"].is_null() || v["target_qty"] == "0", "{b}");
    }
    // ALLOW_ALL: trading again.
    set_policy("ALLOW_ALL");
    let n = records(&data).len();
    run(4500);
    let recs = records(&data);
    assert!(
        recs[n..]
            .iter()
            .any(|(k, b)| k == "engine.policy" && b.contains("ALLOW_ALL"))
    );
    assert!(
        recs[n..].iter().any(|(k, _)| k == "order.sent"),
        "orders again"
    );
    // Another data directory's policy file (a restored backup, a neighbour's state/) never
    // lowers this one's policy: NO_NEW_TRADES here, an intact ALLOW_ALL file of another journal.
    set_policy("NO_NEW_TRADES");
    run(4700);
    let other = tmp.path().join("other");
    let out = engine(&other).args(["--max-bars", "20"]).output().unwrap();
    assert!(out.status.success());
    write_policy(&other, "ALLOW_ALL", 5);
    std::fs::copy(
        other.join("state/policy.json"),
        data.join("state/policy.json"),
    )
    .unwrap();
    let n = records(&data).len();
    let err = run(4900);
    assert!(err.contains("not written for this data directory"), "{err}");
    let recs = records(&data);
    assert!(
        recs[n..].iter().all(|(k, _)| k != "engine.policy"),
        "nothing lowered"
    );
}

/// `state/policy.json` as the supervisor writes it (with its checksum).
fn write_policy(data: &Path, policy: &str, releases: u64) {
    let mut st = ballast_core::policy::PolicyState::new(ballast_core::Timestamp::EPOCH);
    st.policy = serde_json::from_value(serde_json::json!(policy)).unwrap();
    st.reason = "test".into();
    st.releases = releases;
    st.journal = ballast_store::journal::identity(&data.join("journal/engine"));
    std::fs::write(
        data.join("state/policy.json"),
        ballast_core::policy::encode_file(&st),
    )
    .unwrap();
}

#[test]
fn item_2_the_engine_leaves_emergency_shutdown_only_for_a_policy_file_with_an_operator_release() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let run = |bars: u32| {
        let out = engine(&data)
            .args(["--max-bars", &bars.to_string()])
            .output()
            .unwrap();
        common::process::assert_ok(&out);
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let policies = || -> Vec<String> {
        records(&data)
            .into_iter()
            .filter(|(k, _)| k == "engine.policy")
            .map(|(_, b)| b)
            .collect()
    };
    run(500);
    write_policy(&data, "EMERGENCY_SHUTDOWN", 0);
    let err = run(600);
    assert!(
        err.contains("safety policy ALLOW_ALL -> EMERGENCY_SHUTDOWN"),
        "{err}"
    );
    assert_eq!(policies().len(), 1);
    // A hand-written file (no checksum) and a damaged one are not policy files at all.
    std::fs::write(
        data.join("state/policy.json"),
        br#"{"policy":"ALLOW_ALL","reason":"by hand"}"#,
    )
    .unwrap();
    let err = run(700);
    assert!(err.contains("it has no checksum"), "{err}");
    write_policy(&data, "ALLOW_ALL", 0);
    let mut bytes = std::fs::read(data.join("state/policy.json")).unwrap();
    bytes[12] ^= 0x20;
    std::fs::write(data.join("state/policy.json"), &bytes).unwrap();
    let err = run(800);
    assert!(err.contains("its checksum does not match"), "{err}");
    // A valid file with no operator release since the halt: refused, whatever it asks.
    for lower in [
        "ALLOW_ALL",
        "SAFE_RISK_PROFILE",
        "NO_NEW_TRADES",
        "DEFENSIVE_EXIT",
    ] {
        write_policy(&data, lower, 0);
        let err = run(900);
        assert!(
            err.contains(&format!(
                "state/policy.json asks for {lower} but the engine journaled EMERGENCY_SHUTDOWN and no operator released it since"
            )),
            "{err}"
        );
    }
    assert_eq!(policies().len(), 1, "nothing less strict journaled");
    // `ballast resume` counts a release: now the engine follows.
    write_policy(&data, "ALLOW_ALL", 1);
    let err = run(2500);
    assert!(
        err.contains("safety policy EMERGENCY_SHUTDOWN -> ALLOW_ALL"),
        "{err}"
    );
    let p = policies();
    assert_eq!(p.len(), 2);
    assert!(p[1].contains("\"releases\":1"), "{}", p[1]);
}

/// The `inbox.line` records of a data directory's journal, in order.
fn inbox_records(data: &Path) -> Vec<String> {
    records(data)
        .into_iter()
        // The first sight of the file (which file reading follows) is not a line.
        .filter(|(k, b)| k == "inbox.line" && !b.contains("\"outcome\":\"opened\""))
        .map(|(_, b)| b)
        .collect()
}

/// Everything under `quarantine/inbox`, as (file name, bytes).
fn inbox_quarantine(data: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(data.join("quarantine/inbox"))
        .map(|d| {
            d.map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

#[test]
fn item_7_an_inbox_line_over_64_kib_is_quarantined_and_the_lines_after_it_go_on() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(data.join("inbox")).unwrap();
    let inbox = data.join("inbox/signals.jsonl");
    // Over the line bound (4 KiB), over the read chunk (64 KiB), and over what one loop
    // streams through (1 MiB): each is rejected, and the signal after them is traded.
    let mut text = Vec::new();
    text.extend_from_slice(b"{\"symbol\":\"AAPL\",\"side\":\"buy\",\"qty\":\"3\"}\n");
    text.extend(std::iter::repeat_n(b'a', 5_000));
    text.push(b'\n');
    text.extend(std::iter::repeat_n(b'b', 70_000));
    text.push(b'\n');
    text.extend(std::iter::repeat_n(b'c', 3_000_000));
    text.push(b'\n');
    text.extend_from_slice(
        b"{\"symbol\":\"MSFT\",\"side\":\"buy\",\"qty\":\"2\",\"reason\":\"after the long lines\"}\n",
    );
    std::fs::write(&inbox, &text).unwrap();
    let out = engine(&data).args(["--max-bars", "30"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let all = inbox_records(&data);
    // The over-long lines' further bytes are `continued` records, each ending once.
    let continued: Vec<&String> = all
        .iter()
        .filter(|r| r.contains("\"outcome\":\"continued\""))
        .collect();
    assert!(continued.len() >= 4, "{continued:#?}");
    for n in [3, 4] {
        assert_eq!(
            continued
                .iter()
                .filter(|r| r.contains(&format!("\"line\":{n},")) && r.contains("\"ended\":true"))
                .count(),
            1,
            "{continued:#?}"
        );
    }
    let recs: Vec<String> = all
        .iter()
        .filter(|r| !r.contains("\"outcome\":\"continued\""))
        .cloned()
        .collect();
    assert_eq!(recs.len(), 5, "{recs:#?}");
    assert!(recs[0].contains("\"outcome\":\"accepted\""), "{}", recs[0]);
    for (i, n) in [(1, 2), (2, 3), (3, 4)] {
        assert!(
            recs[i].contains("\"outcome\":\"rejected\"")
                && recs[i].contains(&format!("\"line\":{n}")),
            "{}",
            &recs[i][..recs[i].len().min(400)]
        );
    }
    assert!(
        recs[4].contains("\"outcome\":\"accepted\"")
            && recs[4].contains("\"line\":5")
            && recs[4].contains("after the long lines"),
        "{}",
        recs[4]
    );
    assert!(
        recs[4].contains(&format!("\"offset_after\":{}", text.len())),
        "{}",
        recs[4]
    );
    // No record carries a long line whole.
    assert!(recs.iter().all(|r| r.len() < 2_000), "records stay small");
    // Said, and counted.
    assert!(
        stderr.contains("inbox line 3 rejected") && stderr.contains("inbox line 4 rejected"),
        "{stderr}"
    );
    assert!(stderr.contains("70000 bytes"), "{stderr}");
    assert!(stderr.contains("3000000 bytes"), "{stderr}");
    // Kept in quarantine whole, with their line numbers.
    let q: Vec<u8> = inbox_quarantine(&data)
        .into_iter()
        .flat_map(|(_, b)| b)
        .collect();
    for (n, c, len) in [(2, b'a', 5_000), (3, b'b', 70_000), (4, b'c', 3_000_000)] {
        let mut entry = format!("{n}\t").into_bytes();
        entry.extend(std::iter::repeat_n(c, len));
        entry.push(b'\n');
        assert!(
            q.windows(entry.len()).any(|w| w == entry.as_slice()),
            "line {n} is in quarantine whole with its number"
        );
    }
    let decisions: Vec<String> = records(&data)
        .into_iter()
        .filter(|(k, b)| k == "engine.decision" && b.contains("after the long lines"))
        .map(|(_, b)| b)
        .collect();
    assert_eq!(decisions.len(), 1, "the signal after them is decided once");
}

#[test]
fn item_11_garbage_inbox_lines_go_to_one_bounded_quarantine_file_per_day_with_a_counted_overflow() {
    const LINES: usize = 6_000;
    const BOUND: u64 = 16_384;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(data.join("inbox")).unwrap();
    let config = tmp.path().join("ballast.toml");
    std::fs::write(
        &config,
        format!("[engine]\ninbox_quarantine_max_bytes = {BOUND}\n"),
    )
    .unwrap();
    let mut text = String::new();
    for i in 1..=LINES {
        text.push_str(&format!("garbage {i}\n"));
    }
    text.push_str(
        "{\"symbol\":\"MSFT\",\"side\":\"buy\",\"qty\":\"2\",\"reason\":\"after the garbage\"}\n",
    );
    std::fs::write(data.join("inbox/signals.jsonl"), &text).unwrap();
    let out = engine(&data)
        .arg("--config")
        .arg(&config)
        .args(["--max-bars", "40"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // The log is bounded too: the first rejections one by one, then one in a thousand.
    let logged = stderr.matches("rejected:").count();
    assert!(logged <= 30, "{logged} rejection lines logged");
    assert!(stderr.contains("one in 1000 is logged"), "{stderr:.2000}");

    // One file for the inbox file and the day, never more than the bound.
    let q = inbox_quarantine(&data);
    assert_eq!(
        q.len(),
        1,
        "{:?}",
        q.iter().map(|(n, _)| n).collect::<Vec<_>>()
    );
    let (name, bytes) = &q[0];
    let day: String = std::process::Command::new("date")
        .args(["-u", "+%Y%m%d"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap();
    assert_eq!(name, &format!("signals.jsonl.corrupt.{day}"));
    assert!(bytes.len() as u64 <= BOUND, "{} bytes", bytes.len());
    // Entries are whole, numbered, in order, from the first line on.
    let text = String::from_utf8(bytes.clone()).unwrap();
    let kept: Vec<&str> = text.lines().collect();
    assert!(kept.len() > 500, "{} entries", kept.len());
    for (i, entry) in kept.iter().enumerate() {
        assert_eq!(*entry, format!("{}\tgarbage {}", i + 1, i + 1));
    }
    // The rest is dropped from quarantine, and each drop is journaled and counted.
    let recs = inbox_records(&data);
    let dropped = recs
        .iter()
        .filter(|r| r.contains("\"dropped\":true"))
        .count();
    assert_eq!(dropped, LINES - kept.len());
    assert!(
        stderr.contains(&format!("({} lines so far", LINES - kept.len())),
        "the overflow count is logged"
    );
    assert!(
        stderr.contains("inbox_quarantine_max_bytes"),
        "it names the bound"
    );
    // And the lines after the garbage go on.
    assert!(
        recs.last().is_some_and(
            |r| r.contains("\"outcome\":\"accepted\"") && r.contains("after the garbage")
        ),
        "{:?}",
        recs.last()
    );
}

#[test]
fn item_7_an_inbox_rotated_by_rename_is_read_from_its_start() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let line = |qty: u32| {
        format!("{{\"symbol\":\"AAPL\",\"side\":\"buy\",\"qty\":\"{qty}\",\"strategy\":\"r\"}}\n")
    };
    std::fs::create_dir_all(data.join("inbox")).unwrap();
    let inbox = data.join("inbox/signals.jsonl");
    std::fs::write(&inbox, format!("{}{}", line(1), line(2))).unwrap();
    let out = engine(&data).args(["--max-bars", "50"]).output().unwrap();
    common::process::assert_ok(&out);
    // Rotated: renamed away, a new file in its place longer than what was read of the old.
    std::fs::rename(&inbox, data.join("inbox/signals.jsonl.1")).unwrap();
    std::fs::write(&inbox, format!("{}{}{}", line(11), line(12), line(13))).unwrap();
    let out = engine(&data).args(["--max-bars", "100"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("renamed and replaced"), "said: {err}");
    // Truncated and written again, longer than what was read (logrotate's copytruncate).
    std::fs::write(&inbox, "").unwrap();
    std::fs::write(
        &inbox,
        format!(
            "{{\"symbol\":\"AAPL\",\"side\":\"buy\",\"qty\":\"21\",\"strategy\":\"padding_padding_padding_padding_padding_padding_padding_padding_padding_padding_padding\"}}\n{}",
            line(22)
        ),
    )
    .unwrap();
    let out = engine(&data).args(["--max-bars", "150"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("truncated and written again"), "said: {err}");
    let accepted: Vec<String> = inbox_records(&data)
        .into_iter()
        .filter(|b| b.contains("\"accepted\""))
        .collect();
    for qty in [
        "\"1\"", "\"2\"", "\"11\"", "\"12\"", "\"13\"", "\"21\"", "\"22\"",
    ] {
        assert_eq!(
            accepted
                .iter()
                .filter(|b| b.contains(&format!("\"qty\":{qty}")))
                .count(),
            1,
            "qty {qty} accepted exactly once: {accepted:#?}"
        );
    }
}

/// Poll the journal until `cond` holds (at most 60 s).
fn wait_records(
    dir: &Path,
    what: &str,
    cond: impl Fn(&[(String, String)]) -> bool,
) -> Vec<(String, String)> {
    common::wait::until(
        std::time::Duration::from_secs(60),
        || {
            let recs = live_records(dir);
            if cond(&recs) { Ok(recs) } else { Err(()) }
        },
        |()| format!("timed out waiting for {what}"),
    )
}

fn bars(recs: &[(String, String)]) -> usize {
    recs.iter().filter(|(k, _)| k == "market.bar").count()
}

/// Part E: deleting `KILL_SWITCH` by hand released the kill switch (the engine journaled
/// `engaged:false "KILL_SWITCH file removed"`), though only `ballast resume` may. The switch is
/// the engine's journaled state: removed by hand — while the engine runs, and across restarts —
/// it stays engaged (said once per start, in words); `ballast resume` (here after the hand
/// removal) writes a release the engine journals, and trading resumes.
#[test]
fn part_e_a_kill_switch_file_removed_by_hand_releases_nothing_only_resume_does() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let cli = |args: &[&str]| {
        common::ballast()
            .args(args)
            .arg("--data-dir")
            .arg(&data)
            .output()
            .unwrap()
    };
    let released = |recs: &[(String, String)]| {
        recs.iter()
            .any(|(k, b)| k == "engine.kill_switch" && b.contains("\"engaged\":false"))
    };
    const WARNING: &str = "KILL_SWITCH was removed but not released by `ballast resume`; the kill switch stays engaged";
    // A running engine; the switch engaged, then its file removed by hand.
    let err_path = tmp.path().join("engine.err");
    let mut running = Command::new(env!("CARGO_BIN_EXE_ballast"))
        .args([
            "engine",
            "--standalone",
            "--bars-per-second",
            "300",
            "--data-dir",
        ])
        .arg(&data)
        .env_remove("BALLAST_HOME")
        .env_remove("BALLAST_CONFIG")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    wait_records(&data, "the engine trading", |r| bars(r) > 50);
    let out = cli(&["kill", "--reason", "drill"]);
    common::process::assert_ok(&out);
    let recs = wait_records(&data, "the engagement", |r| {
        r.iter()
            .any(|(k, b)| k == "engine.kill_switch" && b.contains("\"engaged\":true"))
    });
    let engaged_at = recs.len();
    std::fs::remove_file(data.join("KILL_SWITCH")).unwrap();
    let seen = bars(&recs);
    let recs = wait_records(&data, "bars after the removal", |r| bars(r) > seen + 100);
    assert!(!released(&recs[engaged_at..]), "released by a hand removal");
    assert!(recs[engaged_at..].iter().all(|(k, _)| k != "order.sent"));
    sigterm(&running);
    assert!(running.wait().unwrap().success());
    let err = std::fs::read_to_string(&err_path).unwrap();
    assert_eq!(err.matches(WARNING).count(), 1, "said once: {err}");
    // Restarted: still engaged, said again once.
    let total = bars(&records(&data));
    let out = engine(&data)
        .args(["--max-bars", &(total + 500).to_string()])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr)
            .matches(WARNING)
            .count(),
        1
    );
    let recs = records(&data);
    assert!(!released(&recs[engaged_at..]));
    assert!(recs[engaged_at..].iter().all(|(k, _)| k != "order.sent"));
    // `ballast resume`, the file already gone: the release the engine journals.
    let out = cli(&["resume"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("already removed by hand"), "{text}");
    assert!(data.join("KILL_SWITCH.release").is_file());
    let n = recs.len();
    let out = engine(&data)
        .args(["--max-bars", &(total + 6000).to_string()])
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("kill switch released (released by `ballast resume`"),
        "{err}"
    );
    assert!(!err.contains(WARNING), "{err}");
    assert!(
        !data.join("KILL_SWITCH.release").exists(),
        "the release is consumed"
    );
    let recs = records(&data);
    assert!(released(&recs[n..]));
    assert!(
        recs[n..].iter().any(|(k, _)| k == "order.sent"),
        "orders again"
    );
}
