//! Signals over HTTP, end to end with a real engine process: signals posted to the signals
//! routes (served on 127.0.0.1, port 0) while `ballast engine --standalone` takes them from
//! `journal/signals/`; the engine is killed with SIGKILL mid-stream and started again, and
//! every signal is taken exactly once and decided exactly once — counted in the engine's
//! journal.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::Duration;

use ballast_api::signals::{SignalsState, routes};
use ballast_store::{Layout, RealStorage, SystemClock};
use common::wait::until;

const SIGNALS: u64 = 600;

const CONFIG: &str =
    "[feed]\nkind = \"synthetic\"\nsymbols = [\"AAPL\", \"MSFT\"]\nbars_per_second = 200\n";

fn engine(data: &Path, cfg: &Path) -> Child {
    common::ballast()
        .args(["engine", "--standalone", "--data-dir"])
        .arg(data)
        .arg("--config")
        .arg(cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Seqs of `journal/signals/` in the engine journal's `signals.taken` records (with
/// repeats, if any), and the `source` of each `engine.decision`.
fn taken_and_decided(data: &Path) -> (Vec<u64>, Vec<u64>) {
    let (mut taken, mut decided) = (Vec::new(), Vec::new());
    for (kind, body) in common::journal::engine_records(data) {
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        match kind.as_str() {
            "signals.taken" => {
                for s in v["signals"].as_array().unwrap() {
                    assert!(s["signal"].is_object(), "refused: {s}");
                    taken.push(s["seq"].as_u64().unwrap());
                }
            }
            "engine.decision" => decided.extend(v["source"].as_u64()),
            _ => {}
        }
    }
    (taken, decided)
}

/// The test's data directory and configuration file (written), and the configuration loaded.
fn setup(
    tmp: &Path,
) -> (
    std::path::PathBuf,
    std::path::PathBuf,
    ballast_core::config::Config,
) {
    let (data, cfg) = (tmp.join("data"), tmp.join("ballast.toml"));
    std::fs::write(&cfg, CONFIG).unwrap();
    let source = ballast_core::config::Source {
        path: "ballast.toml",
        text: CONFIG,
    };
    let config = ballast_core::config::load(Some(source), &[]).unwrap();
    (data, cfg, config)
}

/// The signals routes of `data`, served on 127.0.0.1 (port 0) on a runtime of their own.
struct Intake {
    rt: tokio::runtime::Runtime,
    url: String,
    http: reqwest::Client,
}

impl Intake {
    fn start(
        data: &Path,
        config: &ballast_core::config::Config,
        clock: Arc<dyn ballast_core::Clock>,
    ) -> Intake {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let state =
            SignalsState::open(&Layout::new(data), config, Arc::new(RealStorage), clock).unwrap();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}/v1/signals", listener.local_addr().unwrap());
        let router = routes(state).router;
        rt.spawn(async move { axum::serve(listener, router).await.unwrap() });
        Intake {
            rt,
            url,
            http: reqwest::Client::new(),
        }
    }

    /// GET the list with `query`: its JSON.
    fn get(&self, query: &str) -> serde_json::Value {
        let url = format!("{}{query}", self.url);
        let got = async { self.http.get(&url).send().await?.json().await };
        self.rt.block_on(got).unwrap()
    }

    /// POST `body`: the status.
    fn post(&self, body: &str) -> u16 {
        let send = self.http.post(&self.url).body(body.to_owned()).send();
        self.rt.block_on(send).unwrap().status().as_u16()
    }
}

fn once_each(seqs: &[u64]) -> Result<(), String> {
    let mut count: BTreeMap<u64, u32> = BTreeMap::new();
    for s in seqs {
        *count.entry(*s).or_default() += 1;
    }
    let twice: Vec<_> = count.iter().filter(|(_, n)| **n > 1).collect();
    if !twice.is_empty() {
        return Err(format!(
            "{} taken more than once, first {:?}",
            twice.len(),
            &twice[..twice.len().min(5)]
        ));
    }
    let missing: Vec<u64> = (1..=SIGNALS).filter(|s| !count.contains_key(s)).collect();
    match missing.len() {
        0 => Ok(()),
        n => Err(format!("{n} not yet: first {:?}", &missing[..n.min(5)])),
    }
}

#[test]
fn every_signal_is_taken_and_decided_exactly_once_across_a_kill_9_of_the_engine() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, cfg, config) = setup(tmp.path());
    let mut child = engine(&data, &cfg);
    common::wait::file(&data.join("run/engine.heartbeat"), "the engine's heartbeat");

    let intake = Intake::start(&data, &config, Arc::new(SystemClock));
    let post = |i: u64| {
        let body = serde_json::json!({
            "symbol": if i % 2 == 0 { "AAPL" } else { "MSFT" },
            "side": if i % 3 == 0 { "sell" } else { "buy" },
            "qty": "1",
            "strategy": "http-test",
            "idempotency_key": format!("x-{i}"),
        });
        assert_eq!(intake.post(&body.to_string()), 202, "signal {i}");
    };

    // The first half, then SIGKILL once the engine took some of them (mid-stream).
    for i in 1..=SIGNALS / 2 {
        post(i);
    }
    until(
        Duration::from_secs(60),
        || match taken_and_decided(&data).0.len() {
            0 => Err(0),
            n => Ok(n),
        },
        |n| format!("the engine took no signal ({n})"),
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let before = taken_and_decided(&data).0.len() as u64;
    // The second half while no engine runs: accepted and durable, waiting for it.
    for i in SIGNALS / 2 + 1..=SIGNALS {
        post(i);
    }
    let mut child = engine(&data, &cfg);
    let (taken, decided) = until(
        Duration::from_secs(120),
        || {
            let (taken, decided) = taken_and_decided(&data);
            once_each(&taken)?;
            once_each(&decided)?;
            Ok::<_, String>((taken, decided))
        },
        |e| format!("after the restart: {e}"),
    );
    common::process::sigterm(&child);
    child.wait().unwrap();
    assert!(
        before < SIGNALS,
        "the kill came mid-stream ({before} of {SIGNALS} taken)"
    );
    assert_eq!(taken.len() as u64, SIGNALS);
    assert_eq!(decided.len() as u64, SIGNALS);
    // The engine's heartbeat says what it took (the API's backpressure reads it).
    let hb = std::fs::read_to_string(data.join("run/engine.heartbeat")).unwrap();
    let hb: serde_json::Value = serde_json::from_str(&hb).unwrap();
    assert_eq!(hb["signals_seq"], SIGNALS);

    // The list shows each signal's state as the engine's journal tells it: taken, decided
    // (an engine signal id), none left NEW.
    let page = intake.get("?limit=1000");
    let items = page["signals"].as_array().unwrap();
    assert_eq!(items.len() as u64, SIGNALS, "{page}");
    assert_eq!(page["next"], serde_json::Value::Null);
    let mut states: BTreeMap<String, usize> = BTreeMap::new();
    for i in items {
        assert_eq!(i["taken"], true, "{i}");
        assert!(
            i["engine_signal"].as_str().unwrap().starts_with("sig-"),
            "{i}"
        );
        *states
            .entry(i["status"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    assert!(!states.contains_key("NEW"), "{states:?}");
    let page = intake.get("?status=REJECTED&limit=1000");
    let n = page["signals"].as_array().unwrap().len();
    assert_eq!(Some(&n), states.get("REJECTED").or(Some(&0)), "{states:?}");
    if let Some(r) = page["signals"].get(0) {
        assert!(
            !r["why"].as_str().unwrap().is_empty(),
            "a rejection says why: {r}"
        );
    }
}

#[test]
fn a_signal_past_its_ttl_when_the_engine_comes_to_it_is_expired_never_traded() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, cfg, config) = setup(tmp.path());
    // Accepted a minute ago (the API's clock is injected): one with a 5 s ttl, one without.
    let now = ballast_core::Clock::now(&SystemClock);
    let clock = Arc::new(ballast_core::clock::ManualClock::new(now.plus_ms(-60_000)));
    let intake = Intake::start(&data, &config, clock);
    for body in [
        r#"{"symbol":"AAPL","side":"buy","qty":"1","ttl_secs":5,"idempotency_key":"late"}"#,
        r#"{"symbol":"AAPL","side":"buy","qty":"1","idempotency_key":"patient"}"#,
    ] {
        assert_eq!(intake.post(body), 202);
    }
    let mut child = engine(&data, &cfg);
    let taken = until(
        Duration::from_secs(60),
        || {
            let recs: Vec<serde_json::Value> = common::journal::engine_records(&data)
                .into_iter()
                .filter(|(k, _)| k == "signals.taken")
                .flat_map(|(_, b)| {
                    let v: serde_json::Value = serde_json::from_str(&b).unwrap();
                    v["signals"].as_array().unwrap().clone()
                })
                .collect();
            if recs.len() == 2 {
                Ok(recs)
            } else {
                Err(recs.len())
            }
        },
        |n| format!("{n} of 2 signals taken"),
    );
    common::process::sigterm(&child);
    child.wait().unwrap();
    assert_eq!(taken[0]["expired"], true, "{taken:?}");
    assert!(taken[0]["refused"].as_str().unwrap().contains("ttl_secs 5"));
    assert!(taken[0]["signal"].is_null(), "never traded");
    assert!(taken[1]["signal"].is_object(), "{taken:?}");
    let page = intake.get("");
    assert_eq!(page["signals"][0]["status"], "EXPIRED", "{page}");
    assert_eq!(page["signals"][0]["ttl_secs"], 5);
}

/// `POST /v1/signals` to a real `ballast run` (its address in `run/api.addr`, its operator
/// token in `run/api.token`): 202, then its supervised engine takes and decides it, which
/// `GET /v1/signals` shows; without the token, 401.
#[test]
fn ballast_run_serves_the_signals_and_its_engine_takes_them() {
    let tmp = tempfile::tempdir().unwrap();
    let config = format!("{CONFIG}[api]\nport = 0\n{}", common::FAST_HEALTH);
    let sup = common::Sup::start(tmp.path(), &config);
    let addr = sup.dir.join("data/run/api.addr");
    common::wait::file(&addr, "run/api.addr");
    let url = until(
        Duration::from_secs(30),
        || {
            let text = std::fs::read_to_string(&addr).unwrap_or_default();
            text.ends_with('\n')
                .then(|| text.trim().to_owned())
                .ok_or(())
        },
        |()| "run/api.addr stays incomplete".into(),
    );
    let token = std::fs::read_to_string(sup.dir.join("data/run/api.token")).unwrap();
    let (token, signals) = (token.trim().to_owned(), format!("{url}/v1/signals"));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let http = reqwest::Client::new();
    let body =
        r#"{"symbol":"MSFT","side":"buy","qty":"1","strategy":"run","idempotency_key":"run-1"}"#;
    let status = |r: reqwest::RequestBuilder| rt.block_on(r.send()).unwrap().status().as_u16();
    assert_eq!(status(http.post(&signals).body(body)), 401);
    let ok = rt
        .block_on(http.post(&signals).bearer_auth(&token).body(body).send())
        .unwrap();
    assert_eq!(ok.status().as_u16(), 202);
    let ok: serde_json::Value = rt.block_on(ok.json()).unwrap();
    assert_eq!(ok["signal_id"], "api-1");
    let decided = until(
        Duration::from_secs(60),
        || {
            let page: serde_json::Value = rt
                .block_on(async {
                    http.get(&signals)
                        .bearer_auth(&token)
                        .send()
                        .await?
                        .json()
                        .await
                })
                .map_err(|e| e.to_string())?;
            let s = page["signals"][0].clone();
            match s["engine_signal"].is_string() {
                true => Ok(s),
                false => Err(page.to_string()),
            }
        },
        |last| format!("the engine never decided the signal: {last}"),
    );
    assert_eq!(decided["taken"], true);
    assert_ne!(decided["status"], "NEW", "{decided}");
    let (code, _) = sup.stop();
    assert!(code.success(), "{code:?}");
}

/// A paper-mode salvage cuts the engine journal at a damaged record — and with it the
/// `signals.taken` records after it. The signals taken before are not taken again: the
/// engine's heartbeat said how far it had taken, and the restarted engine journals that it
/// skips them (a signal traded twice is the worse loss).
#[test]
fn signals_taken_before_a_salvage_cut_their_records_are_not_taken_again() {
    const N: u64 = 20;
    let tmp = tempfile::tempdir().unwrap();
    let (data, cfg, config) = setup(tmp.path());
    let child = engine(&data, &cfg);
    common::wait::file(&data.join("run/engine.heartbeat"), "the engine's heartbeat");
    let intake = Intake::start(&data, &config, Arc::new(SystemClock));
    for i in 1..=N {
        let body = serde_json::json!({
            "symbol": "AAPL", "side": "buy", "qty": "1", "strategy": "t",
            "idempotency_key": format!("s-{i}"),
        });
        assert_eq!(intake.post(&body.to_string()), 202);
    }
    until(
        Duration::from_secs(60),
        || {
            let hb = std::fs::read_to_string(data.join("run/engine.heartbeat")).unwrap_or_default();
            let hb: serde_json::Value = serde_json::from_str(&hb).unwrap_or_default();
            (hb["signals_seq"] == N).then_some(()).ok_or(hb)
        },
        |hb| format!("the engine did not take the {N} signals: {hb}"),
    );
    common::process::sigterm(&child);
    let mut child = child;
    child.wait().unwrap();
    let (taken_before, _) = taken_and_decided(&data);
    assert_eq!(taken_before.len() as u64, N);
    // Damage an early record (before every take): the salvage keeps only what precedes it.
    let seg = std::fs::read_dir(data.join("journal/engine"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .min()
        .unwrap();
    let text = std::fs::read_to_string(&seg).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    assert!(lines.len() > 6, "{}", lines.len());
    lines[3] = lines[3].replacen("\"seq\":4", "\"seq\":4,\"x\":1", 1);
    std::fs::write(&seg, lines.join("\n") + "\n").unwrap();

    let mut child = engine(&data, &cfg);
    // The restarted engine trades on (bars after the salvage), its heartbeat its own.
    let (taken, _) = until(
        Duration::from_secs(60),
        || {
            let hb = std::fs::read_to_string(data.join("run/engine.heartbeat")).unwrap_or_default();
            let hb: serde_json::Value = serde_json::from_str(&hb).unwrap_or_default();
            let pid = u64::from(child.id());
            (hb["pid"] == pid && hb["loops"].as_u64().unwrap_or(0) > 5)
                .then(|| taken_and_decided(&data))
                .ok_or(hb)
        },
        |hb| format!("the restarted engine did not trade: {hb}"),
    );
    common::process::sigterm(&child);
    child.wait().unwrap();
    assert!(
        taken.is_empty(),
        "signals taken again after the salvage: {taken:?}"
    );
    let skipped = common::journal::engine_records(&data)
        .into_iter()
        .filter(|(kind, body)| {
            kind == "signals.taken" && body.contains(&format!("\"last_seq\":{N}"))
        })
        .count();
    assert_eq!(skipped, 1, "the skip is journaled once");
}
