//! `ballast run` on `[broker] kind = "alpaca"` against the fake Alpaca on loopback (the real
//! binary, the real adapter over real HTTP; the fake runs in this test process): it trades end
//! to end (orders at the fake, fills booked, the engine's positions the fake's, never two
//! orders for one `client_order_id`); a connection dropped after the fake accepted an order
//! never yields a duplicate; schema drift stops trading with FAILED_API_SCHEMA naming the
//! field; a kill -9 of the engine in the middle of a partial fill reconciles to the broker's
//! truth; and `ballast run --live` against a live fake with keys passes every gate and trades.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ballast_fake_alpaca::{DEMO_KEY_ID, DEMO_SECRET_KEY, FakeAlpaca, FakeConfig, Fault, Route};
use common::{FAST_HEALTH, Sup, wait};
use rust_decimal::Decimal;
use serde_json::Value;

const LIVE_KEY_ID: &str = "AKTEST0000000000000";
const LIVE_SECRET: &str = "fake-live-secret-for-the-fake-alpaca-only";

/// A configuration trading AAPL and MSFT on the fake at `url`: a short SMA cross (trades
/// early) on the bundled daily bars at 3 a second, an order per symbol at most every 6 bars
/// (the engine's requests stay inside the adapter's budget of 180 a minute), polling every
/// second — well inside the stuck-signal healer's three bar intervals (2 s of wall time
/// here; 3 minutes on Alpaca's one-minute bars), so a fill is seen before its signal could
/// be expired.
fn config(url: &str, mode: &str) -> String {
    format!(
        "[general]\nmode = \"{mode}\"\n\n[feed]\nsymbols = [\"AAPL\", \"MSFT\"]\nbars_per_second = 3\n\n[strategy]\nfast = 2\nslow = 3\n\n[guard]\nmin_cooldown_bars = 6\n\n[broker]\nkind = \"alpaca\"\n\n[broker.alpaca]\npaper_url = \"{url}\"\nlive_url = \"{url}\"\ndata_url = \"{url}\"\npoll_interval_ms = 1000\nreconcile_interval_secs = 30\ngrace_secs = 0\nrequest_timeout_ms = 2000\nconnect_timeout_ms = 1000\n\n{FAST_HEALTH}"
    )
}

fn paper_keys() -> [(&'static str, &'static str); 2] {
    [
        ("APCA_API_KEY_ID", DEMO_KEY_ID),
        ("APCA_API_SECRET_KEY", DEMO_SECRET_KEY),
    ]
}

/// The market moves one bar every 50 ms while this lives (or until paused).
struct Ticker {
    paused: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Ticker {
    fn start(fake: &Arc<FakeAlpaca>) -> Ticker {
        let (paused, stop) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let (p, s, f) = (Arc::clone(&paused), Arc::clone(&stop), Arc::clone(fake));
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                if !p.load(Ordering::SeqCst) {
                    f.tick();
                }
                // The market's pace (not a synchronisation: nothing waits on it).
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        Ticker {
            paused,
            stop,
            thread: Some(thread),
        }
    }

    fn pause(&self, paused: bool) {
        self.paused.store(paused, Ordering::SeqCst);
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn data(sup: &Sup) -> PathBuf {
    sup.dir.join("data")
}

/// The engine's journal records of `kind`, as JSON.
fn records(data: &Path, kind: &str) -> Vec<Value> {
    common::journal::engine_records(data)
        .into_iter()
        .filter(|(k, _)| k == kind)
        .filter_map(|(_, b)| serde_json::from_str(&b).ok())
        .collect()
}

/// The engine journal as one line per record (kind and body, cut short), for failure messages.
fn journal_summary(data: &Path) -> String {
    common::journal::engine_records(data)
        .into_iter()
        .map(|(k, b)| format!("{k} {}", b.chars().take(300).collect::<String>()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The supervisor's log (`dir/supervisor.err`) and the engine's (`data/logs/engine.log`).
fn logs(dir: &Path) -> String {
    let read = |p: PathBuf| std::fs::read_to_string(p).unwrap_or_default();
    read(dir.join("supervisor.err")) + &read(dir.join("data/logs/engine.log"))
}

/// The last lines of both logs, for failure messages.
fn log_tail(dir: &Path) -> String {
    let tail = |p: PathBuf| {
        let text = std::fs::read_to_string(p).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    };
    format!(
        "supervisor:\n{}\nengine:\n{}",
        tail(dir.join("supervisor.err")),
        tail(dir.join("data/logs/engine.log"))
    )
}

fn heartbeat(data: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(data.join("run/engine.heartbeat")).ok()?;
    serde_json::from_str(&text).ok()
}

/// Every `client_order_id` the engine sent.
fn sent_ids(data: &Path) -> BTreeSet<String> {
    records(data, "order.sent")
        .iter()
        .filter_map(|r| r["client_order_id"].as_str().map(str::to_owned))
        .collect()
}

/// The `client_order_id` the venue has for the journal's `id`: `<epoch>-<id>`, the epoch
/// from the journal's stamp.
fn wire(data: &Path, id: &str) -> String {
    let stamp = &records(data, "journal.stamp")[0];
    let epoch = stamp["epoch"]
        .as_str()
        .expect("an external journal has an id epoch");
    format!("{epoch}-{id}")
}

/// The engine's positions (its heartbeat's view), non-zero ones, by symbol.
fn engine_positions(data: &Path) -> Option<BTreeMap<String, Decimal>> {
    let hb = heartbeat(data)?;
    let mut out = BTreeMap::new();
    for p in hb["view"]["positions"].as_array()? {
        let qty: Decimal = p["qty"].as_str()?.parse().ok()?;
        if !qty.is_zero() {
            out.insert(p["symbol"].as_str()?.to_owned(), qty);
        }
    }
    Some(out)
}

/// The fake's positions, asked over its HTTP API with the adapter.
fn fake_positions(url: &str, live: bool) -> BTreeMap<String, Decimal> {
    use ballast_core::broker::Broker;
    let (k, s) = if live {
        (LIVE_KEY_ID, LIVE_SECRET)
    } else {
        (DEMO_KEY_ID, DEMO_SECRET_KEY)
    };
    let creds = ballast_alpaca::secrets::Credentials::new(k, s).unwrap();
    let settings = ballast_alpaca::client::AlpacaSettings::new(url, url, creds, live);
    let mut b =
        ballast_alpaca::broker::AlpacaBroker::new(settings, Arc::new(ballast_store::SystemClock))
            .unwrap();
    b.positions()
        .unwrap()
        .into_iter()
        .filter(|p| !p.qty.is_zero())
        .map(|p| (p.symbol.to_string(), p.qty))
        .collect()
}

/// Wait until the engine has booked at least `n` venue fills records.
fn wait_fills(sup: &Sup, n: usize) {
    let d = data(sup);
    wait::until(
        Duration::from_secs(60),
        || {
            let got = records(&d, "venue.fills").len();
            if got >= n { Ok(()) } else { Err(got) }
        },
        |got| {
            format!(
                "{got} venue.fills records, {n} expected\n{}",
                std::fs::read_to_string(sup.dir.join("supervisor.err")).unwrap_or_default()
            )
        },
    );
}

/// Wait until the engine's positions are the fake's (the ticker paused: nothing moves).
fn wait_positions_agree(sup: &Sup, url: &str, live: bool) -> BTreeMap<String, Decimal> {
    let d = data(sup);
    wait::until(
        Duration::from_secs(30),
        || {
            let theirs = fake_positions(url, live);
            match engine_positions(&d) {
                Some(ours) if ours == theirs => Ok(ours),
                ours => Err((ours, theirs)),
            }
        },
        |(ours, theirs)| {
            format!(
                "the engine's positions {ours:?} never became the fake's {theirs:?}\n{}",
                std::fs::read_to_string(sup.dir.join("data/logs/engine.log")).unwrap_or_default()
            )
        },
    )
}

fn assert_no_duplicates(fake: &FakeAlpaca, data: &Path) {
    let ids = sent_ids(data);
    assert!(!ids.is_empty(), "orders were sent");
    for id in &ids {
        assert!(
            fake.orders_created_of(&wire(data, id)) <= 1,
            "{id}: {} orders created",
            fake.orders_created_of(&wire(data, id))
        );
    }
}

fn start_fake(cfg: FakeConfig) -> Arc<FakeAlpaca> {
    Arc::new(
        FakeAlpaca::start(FakeConfig {
            symbols: vec!["AAPL".into(), "MSFT".into()],
            // The test's own reads (its waits ask the fake's positions) share the engine's key:
            // the fake's limit is raised so that they never take the engine's budget (the
            // adapter's answer to a 429 storm is tested in ballast-alpaca).
            rate_limit_per_min: 1_000_000,
            ..cfg
        })
        .unwrap(),
    )
}

#[test]
fn ballast_run_on_the_fake_trades_end_to_end_in_paper_mode() {
    let tmp = tempfile::tempdir().unwrap();
    let fake = start_fake(FakeConfig::default());
    let ticker = Ticker::start(&fake);
    let sup = Sup::start_with_env(tmp.path(), &config(&fake.url(), "paper"), &paper_keys());
    wait_fills(&sup, 3);
    ticker.pause(true);
    wait_positions_agree(&sup, &fake.url(), false);
    let d = data(&sup);
    assert_no_duplicates(&fake, &d);
    for id in sent_ids(&d) {
        assert_eq!(fake.submits_of(&wire(&d, &id)), 1, "{id} submitted once");
    }
    let stamp = &records(&d, "journal.stamp")[0];
    assert_eq!(stamp["broker"], "alpaca");
    assert!(stamp["account"].as_str().unwrap().starts_with("alpaca-"));
    assert_eq!(records(&d, "reconcile.run")[0]["startup"], true);
    let hb = heartbeat(&d).unwrap();
    let venue = &hb["status"]["venue"];
    assert_eq!(venue["broker"], "alpaca");
    assert_eq!(venue["compat"]["ok"], true, "{venue:#}");
    // The fills are the fake's, booked once: their ids are unique.
    let fills: Vec<String> = records(&d, "venue.fills")
        .iter()
        .flat_map(|r| r["fills"].as_array().cloned().unwrap_or_default())
        .filter_map(|f| f["fill_id"].as_str().map(str::to_owned))
        .collect();
    let unique: BTreeSet<&String> = fills.iter().collect();
    assert_eq!(unique.len(), fills.len(), "no fill booked twice: {fills:?}");
    let log = logs(tmp.path());
    assert!(
        !log.contains(DEMO_SECRET_KEY),
        "the secret never appears in a log"
    );
}

#[test]
fn a_connection_dropped_after_acceptance_never_yields_a_duplicate() {
    let tmp = tempfile::tempdir().unwrap();
    let fake = start_fake(FakeConfig::default());
    fake.fault(Fault::DropAfterAccept { times: 2 });
    let ticker = Ticker::start(&fake);
    let sup = Sup::start_with_env(tmp.path(), &config(&fake.url(), "paper"), &paper_keys());
    let d = data(&sup);
    // The dropped submits: in flight (unknown), then settled from the venue's word.
    let unknown = wait::until(
        Duration::from_secs(60),
        || {
            // Settled by the venue's word: a lookup that found it, or the order list showing
            // it (a poll can see the order before the lookup of the next pass runs).
            let settled: BTreeSet<String> = records(&d, "order.settle")
                .iter()
                .filter(|r| r["found"] == true)
                .filter_map(|r| r["client_order_id"].as_str().map(str::to_owned))
                .chain(
                    records(&d, "order.venue")
                        .iter()
                        .filter_map(|r| r["settle"]["client_order_id"].as_str().map(str::to_owned)),
                )
                .collect();
            let unknown: Vec<String> = records(&d, "order.sent")
                .iter()
                .filter(|r| r.to_string().contains("\"unknown\""))
                .filter_map(|r| r["client_order_id"].as_str().map(str::to_owned))
                .collect();
            if unknown.len() >= 2 && unknown.iter().all(|id| settled.contains(id)) {
                Ok(unknown)
            } else {
                Err((unknown, settled))
            }
        },
        |(u, s)| {
            format!(
                "unknown outcomes {u:?}, settled {s:?}; journal:\n{}\nlog tail:\n{}",
                journal_summary(&d),
                log_tail(tmp.path())
            )
        },
    );
    wait_fills(&sup, 2);
    ticker.pause(true);
    for id in &unknown {
        assert_eq!(
            fake.orders_created_of(&wire(&d, id)),
            1,
            "{id}: the fake has it once"
        );
        assert_eq!(
            fake.submits_of(&wire(&d, id)),
            1,
            "{id}: never submitted again"
        );
    }
    assert_no_duplicates(&fake, &d);
    wait_positions_agree(&sup, &fake.url(), false);
}

#[test]
fn schema_drift_stops_trading_with_failed_api_schema_naming_the_field() {
    let tmp = tempfile::tempdir().unwrap();
    let fake = start_fake(FakeConfig::default());
    let _ticker = Ticker::start(&fake);
    let sup = Sup::start_with_env(tmp.path(), &config(&fake.url(), "paper"), &paper_keys());
    wait_fills(&sup, 1);
    fake.fault(Fault::MissingField {
        route: Route::ListOrders,
        field: "status".into(),
        times: u32::MAX,
    });
    let d = data(&sup);
    let venue = wait::until(
        Duration::from_secs(30),
        || {
            let v = heartbeat(&d).map(|h| h["status"]["venue"].clone());
            match v {
                Some(v) if v["compat"]["class"] == "FAILED_API_SCHEMA" => Ok(v),
                v => Err(v),
            }
        },
        |v| format!("no FAILED_API_SCHEMA in the heartbeat: {v:?}"),
    );
    let detail = venue["compat"]["detail"].as_str().unwrap();
    assert!(detail.contains("status"), "names the field: {detail}");
    assert!(detail.contains("/v2/orders"), "names the call: {detail}");
    // Nothing more is sent: the bars go on, the submits do not.
    let sent = sent_ids(&d).len();
    let bars = heartbeat(&d).unwrap()["bars"].as_u64().unwrap();
    wait::until(
        Duration::from_secs(30),
        || {
            let now = heartbeat(&d).unwrap()["bars"].as_u64().unwrap();
            if now >= bars + 40 { Ok(()) } else { Err(now) }
        },
        |now| format!("the engine stopped reading bars at {now}"),
    );
    assert_eq!(sent_ids(&d).len(), sent, "no order sent after the drift");
    let log = logs(tmp.path());
    assert!(
        log.contains("FAILED_API_SCHEMA"),
        "said in the log:\n{}",
        log_tail(tmp.path())
    );
}

#[test]
fn a_kill_9_in_the_middle_of_a_partial_fill_reconciles_to_the_brokers_truth() {
    let tmp = tempfile::tempdir().unwrap();
    let fake = start_fake(FakeConfig::default());
    fake.fault(Fault::PartialFill {
        fraction: Decimal::new(3, 1),
    });
    let ticker = Ticker::start(&fake);
    let sup = Sup::start_with_env(tmp.path(), &config(&fake.url(), "paper"), &paper_keys());
    wait_fills(&sup, 2);
    let d = data(&sup);
    // The market stops with an order of the engine's partly filled at the fake.
    let partial = wait::until(
        Duration::from_secs(30),
        || {
            ticker.pause(true);
            let found = sent_ids(&d).into_iter().find(|id| {
                fake.order_by_client_id(&wire(&d, id))
                    .is_some_and(|o| o["status"] == "partially_filled")
            });
            ticker.pause(found.is_some());
            found.ok_or(())
        },
        |()| "no order partly filled at the fake".into(),
    );
    // The engine dies between partial fills; the market goes on without it.
    let pid = heartbeat(&d).unwrap()["pid"].as_u64().unwrap() as i32;
    let engine = rustix::process::Pid::from_raw(pid).unwrap();
    rustix::process::kill_process(engine, rustix::process::Signal::KILL).unwrap();
    // Gone (reaped by the supervisor): its journal no longer moves.
    wait::until(
        Duration::from_secs(30),
        || match rustix::process::test_kill_process(engine) {
            Err(_) => Ok(()),
            Ok(()) => Err(()),
        },
        |()| format!("the engine (pid {pid}) did not die"),
    );
    let before = records(&d, "venue.fills").len();
    for _ in 0..3 {
        fake.tick();
    }
    // The supervisor starts the engine again; its startup reconciliation books what the
    // broker filled meanwhile, once.
    wait::until(
        Duration::from_secs(30),
        || match heartbeat(&d) {
            Some(h) if h["pid"].as_u64() != Some(pid as u64) => Ok(()),
            _ => Err(()),
        },
        |()| "the engine was not started again".into(),
    );
    wait_positions_agree(&sup, &fake.url(), false);
    let filled_meanwhile = records(&d, "venue.fills")
        .iter()
        .skip(before)
        .flat_map(|r| r["fills"].as_array().cloned().unwrap_or_default())
        .any(|f| f["client_order_id"] == partial.as_str());
    assert!(
        filled_meanwhile,
        "the fills of {partial} made meanwhile were booked"
    );
    let runs = records(&d, "reconcile.run");
    assert!(
        runs.iter().filter(|r| r["startup"] == true).count() >= 2,
        "a startup reconciliation at each start"
    );
    let fills: Vec<String> = records(&d, "venue.fills")
        .iter()
        .flat_map(|r| r["fills"].as_array().cloned().unwrap_or_default())
        .filter_map(|f| f["fill_id"].as_str().map(str::to_owned))
        .collect();
    let unique: BTreeSet<&String> = fills.iter().collect();
    assert_eq!(unique.len(), fills.len(), "no fill booked twice");
    assert_no_duplicates(&fake, &d);
}

#[test]
fn ballast_run_live_against_a_live_fake_with_keys_passes_every_gate_and_trades() {
    let tmp = tempfile::tempdir().unwrap();
    let fake = start_fake(FakeConfig {
        key_id: LIVE_KEY_ID.into(),
        secret_key: LIVE_SECRET.into(),
        live: true,
        ..FakeConfig::default()
    });
    let ticker = Ticker::start(&fake);
    let cfg = tmp.path().join("ballast.toml");
    std::fs::write(&cfg, config(&fake.url(), "live")).unwrap();
    let data_dir = tmp.path().join("data");
    let child = common::ballast()
        .env("APCA_API_KEY_ID", LIVE_KEY_ID)
        .env("APCA_API_SECRET_KEY", LIVE_SECRET)
        .args(["run", "--live", "--data-dir"])
        .arg(&data_dir)
        .arg("--config")
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::File::create(tmp.path().join("supervisor.err")).unwrap(),
        ))
        .spawn()
        .unwrap();
    let sup = Sup {
        child,
        dir: tmp.path().to_owned(),
    };
    wait_fills(&sup, 2);
    ticker.pause(true);
    wait_positions_agree(&sup, &fake.url(), true);
    let hb = heartbeat(&data_dir).unwrap();
    let venue = &hb["status"]["venue"];
    assert_eq!(venue["live_missing"], serde_json::json!([]), "{venue:#}");
    assert_eq!(venue["compat"]["ok"], true);
    assert_eq!(records(&data_dir, "journal.stamp")[0]["mode"], "live");
    assert_no_duplicates(&fake, &data_dir);
    let log = logs(tmp.path());
    assert!(
        !log.contains(LIVE_SECRET),
        "the secret never appears in a log"
    );
}

/// `ballast run --live` of `cfg` on `dir/data` with the live keys, its log in
/// `dir/supervisor.err`.
fn run_live(dir: &Path, cfg: &str) -> Sup {
    let file = dir.join("ballast.toml");
    std::fs::write(&file, cfg).unwrap();
    let child = common::ballast()
        .env("APCA_API_KEY_ID", LIVE_KEY_ID)
        .env("APCA_API_SECRET_KEY", LIVE_SECRET)
        .args(["run", "--live", "--data-dir"])
        .arg(dir.join("data"))
        .arg("--config")
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::File::create(dir.join("supervisor.err")).unwrap(),
        ))
        .spawn()
        .unwrap();
    Sup {
        child,
        dir: dir.to_owned(),
    }
}

/// The ops journal's `alert.raised` bodies.
fn raised(data: &Path) -> Vec<Value> {
    let mut out = Vec::new();
    let _ = ballast_store::journal::scan(
        &ballast_store::RealStorage,
        &data.join("journal/ops"),
        &mut |rec: &ballast_store::record::RecordRef<'_>| {
            if &*rec.kind == "alert.raised" {
                out.push(serde_json::from_str(rec.body.get()).unwrap_or(Value::Null));
            }
            Ok(())
        },
    );
    out
}

fn live_fake() -> Arc<FakeAlpaca> {
    start_fake(FakeConfig {
        key_id: LIVE_KEY_ID.into(),
        secret_key: LIVE_SECRET.into(),
        live: true,
        ..FakeConfig::default()
    })
}

#[test]
fn a_foreign_order_and_a_quantity_mismatch_block_a_live_start_until_the_operator_adopts_them() {
    let tmp = tempfile::tempdir().unwrap();
    let fake = live_fake();
    // Behind Ballast's back: a position it does not hold and an order it did not place.
    fake.set_position("AAPL", Decimal::from(15), Decimal::from(100));
    let foreign = fake.add_foreign_order("MSFT", "buy", Decimal::from(3));
    let ticker = Ticker::start(&fake);
    let alerts = "[alerts]\ngroup_wait_secs = 0\ngroup_interval_secs = 1\nrepeat_interval_secs = 3600\n[[alerts.sinks]]\nname = \"log\"\nkind = \"log\"\n";
    let sup = run_live(
        tmp.path(),
        &format!("{}{alerts}", config(&fake.url(), "live")),
    );
    let d = data(&sup);
    // The CRITICAL alert names both symbols.
    let alert = wait::until(
        Duration::from_secs(60),
        || {
            raised(&d)
                .into_iter()
                .find(|n| n.to_string().contains("broker/reconciliation"))
                .ok_or(())
        },
        |()| format!("no reconciliation alert: {:?}", raised(&d)),
    );
    // The market holds still while the operator decides: the foreign limit order (at half
    // the price) cannot fill between the listing and the choice.
    ticker.pause(true);
    let said = alert.to_string();
    assert!(said.contains("\"critical\""), "{said}");
    assert!(said.contains("AAPL") && said.contains("MSFT"), "{said}");
    // The live engine runs, reconciles and sends nothing, naming what it lacks.
    let missing = heartbeat(&d).unwrap()["status"]["venue"]["live_missing"].clone();
    assert!(
        missing.to_string().contains("a clean reconciliation"),
        "{missing}"
    );
    // Signals came and were refused with the reason (not merely none yet).
    wait::until(
        Duration::from_secs(60),
        || {
            let r: Vec<Value> = records(&d, "engine.decision")
                .into_iter()
                .filter(|r| r.to_string().contains("live trading is not armed"))
                .collect();
            if r.len() >= 2 { Ok(r) } else { Err(r.len()) }
        },
        |n| format!("{n} decisions refused for the live gate"),
    );
    assert!(
        sent_ids(&d).is_empty(),
        "nothing sent while findings are open"
    );
    let submitted = |f: &FakeAlpaca| {
        f.requests()
            .iter()
            .any(|r| r.method == "POST" && r.path == "/v2/orders")
    };
    assert!(!submitted(&fake), "no order reached the broker");
    // The operator adopts the broker's view of each, one choice at a time.
    let out = sup.cli(&["reconcile", "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<String> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        ids.iter().any(|i| i.contains("AAPL")) && ids.iter().any(|i| i.contains(&foreign)),
        "{ids:?}"
    );
    for (n, id) in ids.iter().enumerate() {
        let out = sup.cli(&[
            "reconcile",
            "adopt",
            id,
            "--reason",
            "the broker's statement",
        ]);
        assert!(
            out.status.success(),
            "{}",
            common::process::text(&out.stderr)
        );
        wait::until(
            Duration::from_secs(60),
            || {
                let got = records(&d, "reconcile.resolve").len();
                if got > n { Ok(()) } else { Err(got) }
            },
            |got| format!("{got} choices journaled, {} expected", n + 1),
        );
    }
    ticker.pause(false);
    // Clean now: every gate passes and the engine trades. The adopted foreign order is left
    // to its owner: if it fills (the ticker runs on), the position it leaves is a finding of
    // its own (PLAYBOOK), which the operator adopts in turn.
    let mut done: BTreeSet<String> = ids.iter().cloned().collect();
    wait::until(
        Duration::from_secs(90),
        || {
            let hb = heartbeat(&d).ok_or(Value::Null)?;
            let v = &hb["status"]["venue"];
            if v["live_missing"] == serde_json::json!([]) && !sent_ids(&d).is_empty() {
                return Ok(());
            }
            let open = v["reconcile"]["findings"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            for f in &open {
                let id = f["id"].as_str().unwrap_or_default().to_owned();
                if done.contains(&id) {
                    continue; // chosen; the next run shows it closed
                }
                assert_eq!(
                    id, "unknown_position:MSFT",
                    "only the foreign order's fill may show after the choices: {v:#}"
                );
                let out = sup.cli(&["reconcile", "adopt", &id, "--reason", "its fill"]);
                assert!(
                    out.status.success(),
                    "{}\njournal:\n{}",
                    common::process::text(&out.stderr),
                    journal_summary(&d)
                );
                done.insert(id);
            }
            Err(v.clone())
        },
        |v| format!("the live engine never traded after the choices: {v:#}"),
    );
    drop(ticker);
    assert_no_duplicates(&fake, &d);
    assert!(submitted(&fake));
}

#[test]
fn the_alpaca_feed_trades_on_the_brokers_bars_each_taken_once() {
    let tmp = tempfile::tempdir().unwrap();
    let fake = start_fake(FakeConfig::default());
    let _ticker = Ticker::start(&fake);
    // The engine's bars are the broker's market data, asked every 2 s (with polling every
    // 2 s they fit the request budget: 60 + 10 + 60 of 135 a minute).
    let cfg = config(&fake.url(), "paper")
        .replace("[feed]\n", "[feed]\nkind = \"alpaca\"\n")
        .replace("poll_interval_ms = 1000\n", "poll_interval_ms = 2000\n")
        .replace("grace_secs = 0\n", "grace_secs = 0\nbars_poll_secs = 2\n");
    let sup = Sup::start_with_env(tmp.path(), &cfg, &paper_keys());
    let d = data(&sup);
    let bars = wait::until(
        Duration::from_secs(60),
        || {
            let bars = records(&d, "market.bar");
            if bars.len() >= 20 && !sent_ids(&d).is_empty() {
                Ok(bars)
            } else {
                Err(bars.len())
            }
        },
        |n| {
            format!(
                "{n} bars journaled\n{}",
                std::fs::read_to_string(tmp.path().join("supervisor.err")).unwrap_or_default()
            )
        },
    );
    let mut last: BTreeMap<String, String> = BTreeMap::new();
    for b in &bars {
        let (sym, ts) = (
            b["bar"]["symbol"].as_str().unwrap().to_owned(),
            b["bar"]["ts"].as_str().unwrap().to_owned(),
        );
        if let Some(prev) = last.get(&sym) {
            assert!(
                ts > *prev,
                "{sym}: bar {ts} after {prev}: each bar once, in order"
            );
        }
        last.insert(sym, ts);
    }
    assert_eq!(last.len(), 2, "both symbols' bars: {last:?}");
    assert!(
        fake.requests()
            .iter()
            .any(|r| r.path == "/v2/stocks/bars" && r.status == 200),
        "the bars came from the broker's market data"
    );
}
