//! A journal written by the engine before issue 11 (typed engine records, the state split by
//! job, the broker trait) reads back the same with today's code: every record decodes as a
//! record type this build knows, and replaying it — from the journal alone, and from its
//! snapshot — gives the same engine state and the same summary the old engine gave.
//!
//! The fixture is `tests/fixtures/journal-before-issue-11/` (its README says how it was made).
//! `write_the_fixture_journal` (ignored) is the scenario that made it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;

mod common;

const FIXTURE: &str = "tests/fixtures/journal-before-issue-11";

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE)
}

/// The binary without the chaos of the environment.
fn without_chaos(mut c: Command) -> Command {
    c.env_remove("BALLAST_CHAOS_LOST_REPLY_EVERY")
        .env_remove("BALLAST_CHAOS_CRASH_AFTER_SEQ");
    c
}

fn ballast() -> Command {
    without_chaos(common::ballast())
}

fn engine(dir: &Path) -> Command {
    without_chaos(common::engine_cmd(dir))
}

/// `(type, body)` of every record of the engine journal in `data`, which must be clean.
fn records(data: &Path) -> Vec<(String, String)> {
    let (recs, scan) = common::journal::engine_scan(data);
    assert_eq!(
        scan.unwrap().verdict,
        ballast_store::journal::Verdict::Clean
    );
    recs.into_iter().map(|(_, k, b)| (k, b)).collect()
}

/// A copy of the fixture's data directory in `to`: the journal, and the snapshots if asked.
fn copy_fixture(to: &Path, snapshots: bool) {
    let from = fixture().join("data");
    for sub in ["journal/engine", "state"] {
        std::fs::create_dir_all(to.join(sub)).unwrap();
        if sub == "state" && !snapshots {
            continue;
        }
        for e in std::fs::read_dir(from.join(sub)).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), to.join(sub).join(e.file_name())).unwrap();
        }
    }
}

/// The engine's state as JSON, its hash sets and maps sorted (their order is not part of the
/// state: a state read from a snapshot iterates them in another order).
fn state_json(state: &ballast_core::engine::EngineState) -> serde_json::Value {
    let mut v = serde_json::to_value(state).unwrap();
    for at in ["/fill_ids", "/guard/keys", "/guard/recent_last"] {
        if let Some(items) = v.pointer_mut(at).and_then(|i| i.as_array_mut()) {
            items.sort_by_key(ToString::to_string);
        }
    }
    v
}

/// Replay `data` in this process (no bar beyond the journal's): the recovered state.
fn replay(data: &Path, bars: u64) -> ballast_engine::Report {
    let config = ballast_core::config::load(None, &[]).unwrap();
    let opts = ballast_engine::Options {
        max_bars: Some(bars),
        bars_per_second: Some(0),
        ..ballast_engine::Options::default()
    };
    let mut lines = Vec::new();
    let report = ballast_engine::run(&config, data, &opts, &AtomicBool::new(false), &mut |l| {
        lines.push(l.to_owned());
    });
    report.unwrap_or_else(|e| panic!("{e}\n{}", lines.join("\n")))
}

fn expected(name: &str) -> String {
    std::fs::read_to_string(fixture().join(name)).unwrap()
}

/// The record types the fixture holds, each with how many.
const KINDS: &[(&str, usize)] = &[
    ("engine.decision", 25),
    ("engine.kill_switch", 2),
    ("engine.liquidation", 2),
    ("engine.policy", 1),
    ("inbox.line", 4),
    ("journal.stamp", 1),
    ("market.bar", 900),
    ("order.sent", 28),
    ("order.settle", 4),
    ("paper.settings", 2),
    ("signal.expired", 2),
];

/// The record types added after the fixture was written (it cannot hold them).
const SINCE: &[&str] = &[
    "engine.settings",
    "feed.switch",
    "signals.taken",
    "venue.fills",
    "order.venue",
    "reconcile.run",
    "reconcile.resolve",
];

/// The records an engine journals on top of the fixture at its start: the settings of its
/// configuration (a journal without them is judged by the configured ones until then).
fn started_on_top(data: &Path, recs: &[(String, String)]) {
    let now = records(data);
    assert_eq!(&now[..recs.len()], recs, "the fixture's records unchanged");
    let top: Vec<&str> = now[recs.len()..].iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(top, ["engine.settings"], "only the start's settings on top");
    let body: serde_json::Value = serde_json::from_str(&now[recs.len()].1).unwrap();
    assert_eq!(body["source"], "start");
    assert_eq!(body["previous"], serde_json::Value::Null);
}

/// The recovered state without the settings the start journaled (the old engine had none),
/// once they are checked to be the configuration's.
fn without_settings(state: &ballast_core::engine::EngineState) -> serde_json::Value {
    let config = ballast_core::config::load(None, &[]).unwrap();
    assert_eq!(
        state.settings(),
        Some(&ballast_core::engine::EngineSettings::of(&config))
    );
    let mut v = state_json(state);
    v.as_object_mut().unwrap().remove("settings");
    // A figure the state gained after the fixture was written (checked on its own below).
    v.as_object_mut().unwrap().remove("closing_orders");
    v
}

#[test]
fn engine_reads_a_journal_written_before_issue_11() {
    let recs = records(&fixture().join("data"));
    // Every record is of a type this build reads, and its body decodes as that type.
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for (kind, body) in &recs {
        let known = ballast_core::engine::kinds::ALL
            .iter()
            .find(|k| **k == kind)
            .unwrap_or_else(|| panic!("{kind} is not an engine record type"));
        ballast_core::engine::kinds::check_body(kind, body).unwrap();
        // As a typed record: its type, and its body written back byte for byte.
        let record = ballast_core::engine::EngineRecord::decode(kind, body).unwrap();
        assert_eq!(record.kind(), kind);
        assert_eq!(&serde_json::to_string(&record.body()).unwrap(), body);
        *counts.entry(known).or_default() += 1;
    }
    assert_eq!(counts.into_iter().collect::<Vec<_>>(), KINDS);
    let mut kinds: Vec<&str> = KINDS.iter().map(|(k, _)| *k).collect();
    kinds.extend(SINCE);
    kinds.sort_unstable();
    let mut all = ballast_core::engine::kinds::ALL.to_vec();
    all.sort_unstable();
    assert_eq!(
        kinds, all,
        "the fixture holds every record type but those added since"
    );
    let bars = KINDS[6].1 as u64;
    let want_state: serde_json::Value = serde_json::from_str(&expected("expected-state.json"))
        .expect("expected-state.json is JSON");

    // The journal alone, replayed by the engine binary: the old engine's summary, nothing
    // journaled beyond it.
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("journal-only");
    copy_fixture(&data, false);
    let out = engine(&data)
        .args(["--max-bars", &bars.to_string()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("{} records replayed", recs.len())),
        "{stderr}"
    );
    // The same summary, one seq further: the settings record of the start.
    let last = recs.len();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        expected("expected-summary.txt").replace(
            &format!("(journal seq {last})"),
            &format!("(journal seq {})", last + 1)
        )
    );
    started_on_top(&data, &recs);

    // In this process, from the journal alone and from its last snapshot: the same state.
    let data = tmp.path().join("journal-only-again");
    copy_fixture(&data, false);
    let report = replay(&data, bars);
    assert_eq!(report.replayed, recs.len() as u64);
    assert_eq!(without_settings(&report.state), want_state);
    // Counted from the records: the kill switch's flatten and the policy's DEFENSIVE_EXIT each
    // placed one closing order (a snapshot written before the count has none: from it, the
    // count starts again, and the ids stay unique from the next bar on).
    assert_eq!(report.state.controls.closing_orders, 2);
    let data = tmp.path().join("with-snapshot");
    copy_fixture(&data, true);
    let report = replay(&data, bars);
    assert_eq!(
        report.snapshot_seq,
        recs.len() as u64,
        "read from the snapshot"
    );
    assert_eq!(without_settings(&report.state), want_state);
    started_on_top(&data, &recs);
    // And it is written as before: the same keys in the same order (and the settings the
    // start journaled last).
    let snapshot = std::fs::read_to_string(fixture().join(format!(
        "data/state/engine.snapshot.{:020}.json",
        recs.len()
    )))
    .unwrap();
    let line: SnapshotLine<'_> = serde_json::from_str(snapshot.trim_end()).unwrap();
    let written = serde_json::to_string(&report.state).unwrap();
    let mut before = serde_json::from_str::<Keys>(line.body.state.get())
        .unwrap()
        .0;
    before.push("settings".into());
    assert_eq!(serde_json::from_str::<Keys>(&written).unwrap().0, before);
}

#[derive(serde::Deserialize)]
struct SnapshotLine<'a> {
    #[serde(borrow)]
    body: SnapshotBody<'a>,
}

#[derive(serde::Deserialize)]
struct SnapshotBody<'a> {
    #[serde(borrow)]
    state: &'a serde_json::value::RawValue,
}

/// The keys of a JSON object, in the order they are written.
struct Keys(Vec<String>);

impl<'de> serde::Deserialize<'de> for Keys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct InOrder;
        impl<'de> serde::de::Visitor<'de> for InOrder {
            type Value = Keys;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Keys, A::Error> {
                let mut keys = Vec::new();
                while let Some((k, _)) = m.next_entry::<String, serde::de::IgnoredAny>()? {
                    keys.push(k);
                }
                Ok(Keys(keys))
            }
        }
        d.deserialize_map(InOrder)
    }
}

/// `state/policy.json` as the supervisor writes it (with its checksum and journal binding).
fn write_policy(data: &Path, policy: &str) {
    let mut st = ballast_core::policy::PolicyState::new(ballast_core::Timestamp::EPOCH);
    st.policy = serde_json::from_value(serde_json::json!(policy)).unwrap();
    st.reason = "fixture drill".into();
    st.journal = ballast_store::journal::identity(&data.join("journal/engine"));
    std::fs::write(
        data.join("state/policy.json"),
        ballast_core::policy::encode_file(&st),
    )
    .unwrap();
}

fn ok(mut c: Command) -> String {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The scenario that wrote the fixture (run once, by the code before issue 11):
/// `BALLAST_FIXTURE_OUT=<new dir> cargo test -p ballast --test journal_fixture -- --ignored`.
#[test]
#[ignore = "writes the fixture; run by hand"]
fn write_the_fixture_journal() {
    let out = PathBuf::from(std::env::var("BALLAST_FIXTURE_OUT").unwrap());
    assert!(!out.exists(), "{} exists already", out.display());
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let run = |bars: u64, config: Option<&Path>, lost: bool| {
        let mut c = engine(&data);
        c.args(["--max-bars", &bars.to_string()]);
        if let Some(cfg) = config {
            c.arg("--config").arg(cfg);
        }
        if lost {
            c.env("BALLAST_CHAOS_LOST_REPLY_EVERY", "3");
        }
        ok(c)
    };
    let cli = |args: &[&str]| {
        let mut c = ballast();
        c.args(args).arg("--data-dir").arg(&data);
        ok(c)
    };
    // 1. The inbox: an accepted market order, a garbage line (quarantined), a limit buy far
    //    under the market (never fills: the stuck-signal healer expires it). One send in three
    //    loses its reply: unknown outcomes, settled by lookups.
    std::fs::create_dir_all(data.join("inbox")).unwrap();
    std::fs::write(
        data.join("inbox/signals.jsonl"),
        concat!(
            "{\"symbol\":\"AAPL\",\"side\":\"buy\",\"qty\":\"3\",\"strategy\":\"my_bot\",\"idempotency_key\":\"mb-1\"}\n",
            "not json at all\n",
            "{\"symbol\":\"MSFT\",\"side\":\"buy\",\"qty\":\"2\",\"limit_price\":\"1.00\",\"strategy\":\"my_bot\",\"idempotency_key\":\"mb-2\"}\n",
        ),
    )
    .unwrap();
    run(500, None, true);
    // 2. Other [paper] fees and a tight exposure cap: paper.settings, an auto-trim.
    let tight = tmp.path().join("tight.toml");
    std::fs::write(
        &tight,
        "[paper]\nfee_bps = 5\n[guard]\nmax_portfolio_exposure_pct = 1\n[risk]\nmax_total_at_risk_pct = 1\n",
    )
    .unwrap();
    run(560, Some(&tight), false);
    // 3. The kill switch with flatten (its closing orders), then its release.
    cli(&["kill", "--flatten", "--reason", "fixture drill"]);
    run(600, None, false);
    cli(&["resume"]);
    run(850, None, false);
    // 4. The supervisor's safety policy: DEFENSIVE_EXIT (its closing orders).
    write_policy(&data, "DEFENSIVE_EXIT");
    run(900, None, false);

    // The fixture: the journal and the last snapshots.
    let recs = records(&data);
    let last = recs.len();
    std::fs::create_dir_all(out.join("data/journal/engine")).unwrap();
    std::fs::create_dir_all(out.join("data/state")).unwrap();
    for e in std::fs::read_dir(data.join("journal/engine")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(
            e.path(),
            out.join("data/journal/engine").join(e.file_name()),
        )
        .unwrap();
    }
    for name in ["engine", "pipeline", "universe"] {
        let f = format!("{name}.snapshot.{last:020}.json");
        std::fs::copy(data.join("state").join(&f), out.join("data/state").join(&f)).unwrap();
    }
    // The expected values, as the code of today reads the fixture back.
    let copy = tmp.path().join("copy");
    let from = |sub: &str| {
        std::fs::create_dir_all(copy.join(sub)).unwrap();
        for e in std::fs::read_dir(out.join("data").join(sub)).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), copy.join(sub).join(e.file_name())).unwrap();
        }
    };
    from("journal/engine");
    let mut c = engine(&copy);
    c.args(["--max-bars", "900"]);
    std::fs::write(out.join("expected-summary.txt"), ok(c)).unwrap();
    let copy2 = tmp.path().join("copy2");
    std::fs::create_dir_all(copy2.join("journal/engine")).unwrap();
    for e in std::fs::read_dir(out.join("data/journal/engine")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), copy2.join("journal/engine").join(e.file_name())).unwrap();
    }
    let report = replay(&copy2, 900);
    std::fs::write(
        out.join("expected-state.json"),
        serde_json::to_string_pretty(&state_json(&report.state)).unwrap() + "\n",
    )
    .unwrap();
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for (k, _) in &recs {
        *counts.entry(k.clone()).or_default() += 1;
    }
    std::fs::write(out.join("kinds.txt"), format!("{counts:#?}\n")).unwrap();
}
