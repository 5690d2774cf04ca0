//! Issue 10, items 4, 5, 6, 9 and 10: recovery is decided once. A data directory the engine
//! wrote is damaged by hand; then `ballast journal verify`, `ballast heal --dry-run` and the
//! engine itself must say and do the same thing: a torn tail healed only when nothing says its
//! records were acknowledged, a newer format refused in every mode, dangerous damage salvaged
//! by a paper engine (which then comes back at every start) and refused in live mode, a
//! snapshot used only when it belongs to the journal.
//!
//! Everything runs the real binary on real files in a temp directory; no sleeps.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::ballast;
use common::process::text;
use serde_json::Value;

/// Several segments and snapshots along the way.
const CFG: &str =
    "[journal]\nsnapshot_every_records = 100\nsegment_max_bytes = 16384\nmax_record_bytes = 8192\n";
/// One segment.
const ONE_SEGMENT: &str = "[journal]\nsnapshot_every_records = 100\n";

fn write_config(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p
}

fn engine(data: &Path, cfg: &Path, bars: u32) -> Output {
    common::standalone_engine(data, cfg, bars)
}

fn engine_ok(data: &Path, cfg: &Path, bars: u32) -> String {
    let out = engine(data, cfg, bars);
    assert!(out.status.success(), "engine failed: {}", text(&out.stderr));
    text(&out.stderr)
}

fn verify(data: &Path) -> (i32, String) {
    let out = ballast()
        .args(["journal", "verify", "--data-dir"])
        .arg(data)
        .output()
        .unwrap();
    (out.status.code().unwrap_or(-1), text(&out.stdout))
}

fn verify_json(data: &Path) -> (i32, Value) {
    let out = ballast()
        .args(["journal", "verify", "--json", "--data-dir"])
        .arg(data)
        .output()
        .unwrap();
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("verify printed no JSON ({e}): {}", text(&out.stdout)));
    (out.status.code().unwrap_or(-1), v)
}

/// `ballast heal --dry-run`: the JSON report and the text.
fn heal_dry(data: &Path, cfg: &Path) -> (Value, String) {
    let run = |json: bool| {
        let mut c = ballast();
        c.args(["heal", "--dry-run"]);
        if json {
            c.arg("--json");
        }
        c.arg("--data-dir")
            .arg(data)
            .arg("--config")
            .arg(cfg)
            .output()
            .unwrap()
    };
    let j = run(true);
    let v = serde_json::from_slice(&j.stdout)
        .unwrap_or_else(|e| panic!("heal printed no JSON ({e}): {}", text(&j.stdout)));
    (v, text(&run(false).stdout))
}

fn segments(data: &Path) -> Vec<PathBuf> {
    let mut segs: Vec<PathBuf> = std::fs::read_dir(data.join("journal/engine"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    segs.sort();
    segs
}

fn snapshots(data: &Path, name: &str) -> Vec<PathBuf> {
    let mut s: Vec<PathBuf> = std::fs::read_dir(data.join("state"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&format!("{name}.snapshot."))
        })
        .collect();
    s.sort();
    s
}

/// Every file under `dir` (relative path, content): what a refusal must leave alone.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// The journal and the snapshots — what the engine's recovery may change — as (path, size,
/// CRC32C of the content).
fn recovery_files(data: &Path) -> Vec<(String, usize, u32)> {
    let mut f = files(&data.join("journal/engine"));
    f.extend(
        files(&data.join("state"))
            .into_iter()
            .filter(|(p, _)| p.contains(".snapshot.")),
    );
    f.into_iter()
        .map(|(p, c)| (p, c.len(), crc32c::crc32c(&c)))
        .collect()
}

fn quarantined(data: &Path) -> Vec<String> {
    files(&data.join("quarantine"))
        .into_iter()
        .map(|(p, _)| p)
        .collect()
}

/// A record line (without its newline), framed with a correct CRC.
fn frame(v: u32, seq: u64, ts: &str, kind: &str, body: &str, extra: &str) -> String {
    let prefix =
        format!(r#"{{"v":{v},"seq":{seq},"ts":"{ts}","type":"{kind}","body":{body}{extra}"#);
    let crc = crc32c::crc32c(prefix.as_bytes());
    format!("{prefix},\"crc\":\"{crc:08x}\"}}")
}

/// `(seq, ts, type, body)` of a record line.
fn parts(line: &str) -> (u64, String, String, String) {
    let v: Value = serde_json::from_str(line).unwrap();
    let start = line.find(",\"body\":").unwrap() + ",\"body\":".len();
    let end = line.rfind(",\"crc\":\"").unwrap();
    (
        v["seq"].as_u64().unwrap(),
        v["ts"].as_str().unwrap().to_owned(),
        v["type"].as_str().unwrap().to_owned(),
        line[start..end].to_owned(),
    )
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

/// Checks that the tools and the engine agree on `data`, and returns the decided outcome
/// (`clean`, `heal`, `salvage`, `refuse`) after checking that the engine did exactly that.
fn tools_and_engine_agree(name: &str, data: &Path, cfg: &Path) -> String {
    let (vcode, v) = verify_json(data);
    let outcome = v["paper"]["outcome"]
        .as_str()
        .unwrap_or_else(|| panic!("{name}: verify --json has no paper decision: {v:#}"))
        .to_owned();
    let (h, htext) = heal_dry(data, cfg);
    let before = recovery_files(data);
    let out = engine(data, cfg, 350);
    let stderr = text(&out.stderr);
    match outcome.as_str() {
        "refuse" => {
            assert_eq!(vcode, 2, "{name}: a refusal is dangerous for verify");
            assert_eq!(h["engine_may_start"], false, "{name}: {h:#}");
            assert!(htext.contains("will refuse to start"), "{name}: {htext}");
            assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
            assert_eq!(
                recovery_files(data),
                before,
                "{name}: a refusing engine changed the journal or the snapshots"
            );
        }
        "salvage" => {
            assert_eq!(vcode, 2, "{name}: salvage means dangerous damage");
            assert!(
                h["plan"]["actions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|a| a["class"] == "dangerous"),
                "{name}: heal does not see it: {h:#}"
            );
            assert_eq!(h["engine_may_start"], true, "{name}");
            assert!(htext.contains("salvages at its start"), "{name}: {htext}");
            assert_eq!(
                v["live"]["outcome"], "refuse",
                "{name}: live refuses what paper salvages"
            );
            assert!(
                out.status.success(),
                "{name}: paper must come back: {stderr}"
            );
            assert!(
                stderr.contains("CRITICAL: paper-mode salvage done"),
                "{name}: {stderr}"
            );
            let keep = v["paper"]["keep_seq"].as_u64().unwrap();
            assert!(
                stderr.contains(&format!("continues from seq {keep}")),
                "{name}: {stderr}"
            );
            // It comes back again, clean, at every later start.
            let again = engine_ok(data, cfg, 360);
            assert!(!again.contains("CRITICAL"), "{name}: {again}");
            let (code, report) = verify(data);
            assert_eq!(code, 0, "{name}: after the salvage: {report}");
        }
        "clean" | "heal" => {
            assert!(out.status.success(), "{name}: {stderr}");
            assert!(!stderr.contains("CRITICAL"), "{name}: {stderr}");
        }
        other => panic!("{name}: unknown outcome {other}"),
    }
    outcome
}

/// A paper data directory with several segments and snapshots: `bars` bars written, the
/// engine stopped cleanly.
fn written(tmp: &Path, cfg_text: &str, bars: u32) -> (PathBuf, PathBuf) {
    let cfg = write_config(tmp, "ballast.toml", cfg_text);
    let data = tmp.join("data");
    engine_ok(&data, &cfg, bars);
    (data, cfg)
}

#[test]
fn item_4_paper_salvage_of_mid_journal_damage_with_snapshots_ahead_comes_back_every_time() {
    type Damage = fn(&Path);
    let cases: Vec<(&str, Damage)> = vec![
        ("a duplicated line", |data| {
            let seg = &segments(data)[1];
            let mut l = lines(seg);
            let dup = l[10].clone();
            l.insert(11, dup);
            write_lines(seg, &l);
        }),
        ("two lines swapped", |data| {
            let seg = &segments(data)[1];
            let mut l = lines(seg);
            l.swap(10, 11);
            write_lines(seg, &l);
        }),
        ("a wrong seq", |data| {
            let seg = &segments(data)[1];
            let mut l = lines(seg);
            let (seq, ts, kind, body) = parts(&l[10]);
            l[10] = frame(1, seq + 5, &ts, &kind, &body, "");
            write_lines(seg, &l);
        }),
        ("a zeroed block", |data| {
            let seg = &segments(data)[1];
            let mut b = std::fs::read(seg).unwrap();
            let mid = b.len() / 2;
            b[mid..mid + 512].fill(0);
            std::fs::write(seg, b).unwrap();
        }),
        ("a deleted middle segment", |data| {
            std::fs::remove_file(&segments(data)[2]).unwrap();
        }),
    ];
    for (name, damage) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let (data, cfg) = written(tmp.path(), CFG, 300);
        assert!(segments(&data).len() >= 4, "{name}: want several segments");
        damage(&data);
        let newest = snapshots(&data, "engine").pop().unwrap();

        let (code, report) = verify(&data);
        assert_eq!(code, 2, "{name}: {report}");
        assert!(
            report.contains("DANGEROUS") && report.contains("a paper engine salvages"),
            "{name}: {report}"
        );
        assert!(
            report.contains(&format!(
                "{}  (see below)",
                newest.strip_prefix(&data).unwrap().display()
            )),
            "{name}: the snapshot ahead of the kept prefix is named: {report}"
        );
        assert_eq!(
            tools_and_engine_agree(name, &data, &cfg),
            "salvage",
            "{name}"
        );
        // What was cut or moved is in quarantine: the snapshot ahead among it.
        let q = quarantined(&data);
        let snap_name = newest.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            q.iter().any(|p| p.contains(&snap_name)),
            "{name}: {snap_name} not in quarantine: {q:?}"
        );
        assert!(
            q.iter().any(|p| p.starts_with("journal/engine/")),
            "{name}: {q:?}"
        );
    }
}

#[test]
fn item_4_paper_salvage_without_snapshots_still_works() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, cfg) = written(
        tmp.path(),
        "[journal]\nsnapshot_every_records = 10000000\nsegment_max_bytes = 16384\nmax_record_bytes = 8192\n",
        300,
    );
    for s in ["engine", "pipeline", "universe"] {
        for p in snapshots(&data, s) {
            std::fs::remove_file(p).unwrap();
        }
    }
    std::fs::remove_file(data.join("run/engine.heartbeat")).ok();
    let seg = &segments(&data)[1];
    let mut l = lines(seg);
    l.swap(3, 4);
    write_lines(seg, &l);
    assert_eq!(
        tools_and_engine_agree("no snapshots", &data, &cfg),
        "salvage"
    );
}

#[test]
fn item_5_a_snapshot_of_another_data_directory_is_refused_not_adopted() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, cfg) = written(tmp.path(), ONE_SEGMENT, 150);
    let other_cfg = write_config(
        tmp.path(),
        "other.toml",
        &format!("{ONE_SEGMENT}[feed]\nseed = 7\n"),
    );
    let other = tmp.path().join("other");
    engine_ok(&other, &other_cfg, 220);

    // The other directory's newest engine snapshot, framed at exactly this journal's last seq.
    let last = parts(lines(segments(&data).last().unwrap()).last().unwrap()).0;
    let theirs = lines(snapshots(&other, "engine").last().unwrap()).remove(0);
    let (_, ts, kind, body) = parts(&theirs);
    let ours = data.join(format!("state/engine.snapshot.{last:020}.json"));
    assert!(
        ours.exists(),
        "the engine snapshots at its last seq on stop"
    );
    std::fs::write(&ours, frame(1, last, &ts, &kind, &body, "") + "\n").unwrap();

    let (code, report) = verify(&data);
    assert_eq!(code, 2, "{report}");
    assert!(
        report.contains("does not belong to this journal"),
        "{report}"
    );
    let (h, _) = heal_dry(&data, &cfg);
    assert!(
        h["plan"]["actions"].as_array().unwrap().iter().any(|a| {
            a["component"] == "snapshots"
                && a["class"] == "dangerous"
                && a["reason"].as_str().unwrap().contains("does not belong")
        }),
        "{h:#}"
    );
    assert_eq!(
        tools_and_engine_agree("foreign snapshot", &data, &cfg),
        "salvage"
    );
    assert!(
        quarantined(&data)
            .iter()
            .any(|p| p.contains(&format!("engine.snapshot.{last:020}.json"))),
        "the foreign snapshot is in quarantine, not used"
    );
}

#[test]
fn item_6_a_newer_format_record_with_an_extra_field_is_refused_never_repaired() {
    for place in ["last line", "mid-journal"] {
        let tmp = tempfile::tempdir().unwrap();
        let (data, cfg) = written(tmp.path(), ONE_SEGMENT, 120);
        let seg = segments(&data).pop().unwrap();
        let mut l = lines(&seg);
        let i = if place == "last line" {
            l.len() - 1
        } else {
            l.len() / 2
        };
        let (seq, ts, kind, body) = parts(&l[i]);
        l[i] = frame(2, seq, &ts, &kind, &body, r#","origin":"ballast 2""#);
        write_lines(&seg, &l);

        let (code, report) = verify(&data);
        assert_eq!(code, 2, "{place}: {report}");
        assert!(
            report.contains("newer Ballast") && report.contains("upgrade Ballast"),
            "{place}: {report}"
        );
        assert!(
            !report.contains("salvages") && !report.contains("torn tail"),
            "{place}: a newer record is neither salvaged nor a torn tail: {report}"
        );
        let (_, htext) = heal_dry(&data, &cfg);
        assert!(htext.contains("upgrade Ballast"), "{place}: {htext}");
        let before = std::fs::read(&seg).unwrap();
        assert_eq!(
            tools_and_engine_agree(place, &data, &cfg),
            "refuse",
            "{place}"
        );
        let out = engine(&data, &cfg, 10);
        assert!(
            text(&out.stderr).contains("upgrade Ballast"),
            "{place}: {}",
            text(&out.stderr)
        );
        assert_eq!(
            std::fs::read(&seg).unwrap(),
            before,
            "{place}: not repaired"
        );
        assert!(quarantined(&data).is_empty(), "{place}: nothing salvaged");
    }
}

#[test]
fn item_9_verify_heal_and_the_engine_agree_on_what_the_engine_refuses() {
    type Damage = fn(&Path);
    // Each case: what is done to a directory the engine wrote, and what a start decides.
    let cases: Vec<(&str, &str, Damage)> = vec![
        ("a snapshot ahead of the journal", "salvage", |data| {
            let newest = snapshots(data, "engine").pop().unwrap();
            let (seq, ts, kind, body) = parts(&lines(&newest)[0]);
            let ahead = seq + 50;
            std::fs::write(
                data.join(format!("state/engine.snapshot.{ahead:020}.json")),
                frame(1, ahead, &ts, &kind, &body, "") + "\n",
            )
            .unwrap();
        }),
        (
            "a valid-CRC snapshot whose state does not parse",
            "salvage",
            |data| {
                let newest = snapshots(data, "engine").pop().unwrap();
                let (seq, ts, kind, body) = parts(&lines(&newest)[0]);
                let v: Value = serde_json::from_str(&body).unwrap();
                let broken = serde_json::json!({"bound": v["bound"], "state": {"cash": "lots"}});
                std::fs::write(
                    &newest,
                    frame(1, seq, &ts, &kind, &broken.to_string(), "") + "\n",
                )
                .unwrap();
            },
        ),
        (
            "a valid-CRC record whose body does not parse",
            "salvage",
            |data| {
                let seg = &segments(data)[1];
                let mut l = lines(seg);
                let i = l
                    .iter()
                    .position(|x| x.contains("\"type\":\"market.bar\""))
                    .unwrap();
                let (seq, ts, kind, _) = parts(&l[i]);
                l[i] = frame(1, seq, &ts, &kind, r#"{"bars":"none"}"#, "");
                write_lines(seg, &l);
            },
        ),
        ("the last segment deleted", "salvage", |data| {
            std::fs::remove_file(segments(data).pop().unwrap()).unwrap();
        }),
        ("the last segment renamed", "salvage", |data| {
            let last = segments(data).pop().unwrap();
            std::fs::rename(&last, last.with_extension("jsonl.bak")).unwrap();
        }),
        ("an unknown record type in the middle", "salvage", |data| {
            // Replaying past it would silently drop the bar it replaced.
            let seg = &segments(data)[1];
            let mut l = lines(seg);
            let i = l
                .iter()
                .position(|x| x.contains("\"type\":\"market.bar\""))
                .unwrap();
            let (seq, ts, _, body) = parts(&l[i]);
            l[i] = frame(1, seq, &ts, "market.tick", &body, "");
            write_lines(seg, &l);
        }),
        ("a newer-format snapshot", "refuse", |data| {
            let newest = snapshots(data, "engine").pop().unwrap();
            let (seq, ts, kind, body) = parts(&lines(&newest)[0]);
            std::fs::write(&newest, frame(9, seq, &ts, &kind, &body, "") + "\n").unwrap();
        }),
    ];
    for (name, expected, damage) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let (data, cfg) = written(tmp.path(), CFG, 300);
        damage(&data);
        let (code, report) = verify(&data);
        assert_eq!(code, 2, "{name}: verify must not say clean: {report}");
        assert!(
            !report.contains("moved to quarantine at the next start"),
            "{name}: {report}"
        );
        assert_eq!(
            tools_and_engine_agree(name, &data, &cfg),
            expected,
            "{name}"
        );
    }
}

#[test]
fn item_10_acknowledged_records_are_never_cut_as_a_torn_tail() {
    type Damage = fn(&Path);
    let cases: Vec<(&str, Damage)> = vec![
        ("a complete last line with one flipped byte", |data| {
            let seg = segments(data).pop().unwrap();
            let mut b = std::fs::read(&seg).unwrap();
            let start = b[..b.len() - 1].iter().rposition(|c| *c == b'\n').unwrap();
            let at = start + (b.len() - start) / 2;
            b[at] ^= 0x01;
            std::fs::write(&seg, b).unwrap();
        }),
        ("the last 4 KiB zeroed", |data| {
            let seg = segments(data).pop().unwrap();
            let mut b = std::fs::read(&seg).unwrap();
            assert!(b.len() > 8192);
            let n = b.len();
            b[n - 4096..].fill(0);
            std::fs::write(&seg, b).unwrap();
        }),
        ("the last segment cut in the middle", |data| {
            let seg = segments(data).pop().unwrap();
            let b = std::fs::read(&seg).unwrap();
            std::fs::write(&seg, &b[..b.len() / 2 + 7]).unwrap();
        }),
    ];
    for (name, damage) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let (data, cfg) = written(tmp.path(), ONE_SEGMENT, 200);
        damage(&data);
        let seg = segments(&data).pop().unwrap();
        let damaged = std::fs::read(&seg).unwrap();

        acknowledged_not_cut(name, &data, &cfg, "were acknowledged", &seg, &damaged);

        assert_eq!(
            tools_and_engine_agree(name, &data, &cfg),
            "salvage",
            "{name}"
        );
        // The salvage kept a copy of the damaged segment, whole.
        let copies: Vec<(String, Vec<u8>)> = files(&data.join("quarantine"))
            .into_iter()
            .filter(|(p, _)| p.starts_with("journal/engine/"))
            .collect();
        assert!(
            copies.iter().any(|(_, c)| *c == damaged),
            "{name}: no whole copy of the damaged segment in quarantine"
        );
    }

    // A partial line after the last acknowledged record is still a torn tail (healed).
    let tmp = tempfile::tempdir().unwrap();
    let (data, cfg) = written(tmp.path(), ONE_SEGMENT, 50);
    let seg = segments(&data).pop().unwrap();
    let mut b = std::fs::read(&seg).unwrap();
    b.extend_from_slice(b"{\"v\":1,\"seq\":99999,\"ty");
    std::fs::write(&seg, b).unwrap();
    let (code, report) = verify(&data);
    assert_eq!(code, 1, "{report}");
    assert_eq!(tools_and_engine_agree("torn tail", &data, &cfg), "heal");
}

#[test]
fn item_9_the_supervisor_s_healer_holds_a_live_engine_and_a_paper_engine_salvages_and_runs() {
    use common::{Sup, state};
    let tmp = tempfile::tempdir().unwrap();
    let cfg = write_config(tmp.path(), "b.toml", CFG);
    let data = tmp.path().join("data");
    engine_ok(&data, &cfg, 300);
    // The last segment deleted: acknowledged records missing, a snapshot ahead.
    std::fs::remove_file(segments(&data).pop().unwrap()).unwrap();
    let before = recovery_files(&data);

    let live = Sup::start(tmp.path(), &format!("{CFG}[general]\nmode = \"live\"\n"));
    let s = live.wait_for("the engine held", |s| state(s, "engine") == "HELD");
    let why = Sup::service(&s, "engine")["last_exit"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        why.contains("live start refused") && why.contains("missing"),
        "{why}"
    );
    drop(live);
    assert_eq!(
        recovery_files(&data),
        before,
        "the live supervisor changed files"
    );

    let paper = Sup::start(tmp.path(), CFG);
    paper.wait_for("the engine running after the salvage", |s| {
        state(s, "engine") == "RUNNING" && Sup::service(s, "engine")["pid"].is_i64()
    });
    paper.stop();
    let (code, report) = verify(&data);
    assert_eq!(code, 0, "{report}");
    assert!(
        quarantined(&data)
            .iter()
            .any(|p| p.starts_with("state/engine.snapshot.")),
        "the snapshots ahead are in quarantine"
    );
}

/// The heartbeat's durable seq is evidence of acknowledged records whatever else in the file
/// is spoiled or newer: the one field recovery reads is read alone, so a bad `pid`, a
/// newer `version` or a heartbeat of nothing but `last_seq` never turns acknowledged records
/// into a torn tail to cut.
#[test]
fn item_10_the_heartbeat_s_durable_seq_is_evidence_whatever_else_the_file_holds() {
    type Spoil = fn(&mut serde_json::Map<String, Value>);
    let cases: Vec<(&str, Spoil)> = vec![
        ("a pid that is not a number", |h| {
            h.insert("pid".into(), Value::from("x"));
        }),
        ("a time that is not one", |h| {
            h.insert("time".into(), Value::from("bogus"));
        }),
        ("a newer version", |h| {
            h.insert("version".into(), Value::from(2));
        }),
        ("nothing but the durable seq", |h| {
            h.retain(|k, _| k == "last_seq");
        }),
    ];
    for (name, spoil) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let (data, cfg) = written(tmp.path(), ONE_SEGMENT, 200);
        for s in ["engine", "pipeline", "universe"] {
            for p in snapshots(&data, s) {
                std::fs::remove_file(p).unwrap();
            }
        }
        let hb_path = data.join("run/engine.heartbeat");
        let mut hb: serde_json::Map<String, Value> =
            serde_json::from_slice(&std::fs::read(&hb_path).unwrap()).unwrap();
        assert!(hb["last_seq"].as_u64().unwrap() > 10, "{name}: {hb:?}");
        spoil(&mut hb);
        std::fs::write(&hb_path, serde_json::to_vec(&hb).unwrap()).unwrap();
        // The last records cut in the middle of a line: shaped like a torn tail.
        let seg = segments(&data).pop().unwrap();
        let b = std::fs::read(&seg).unwrap();
        let cut = b[..b.len() - 1].iter().rposition(|c| *c == b'\n').unwrap();
        let cut = b[..cut].iter().rposition(|c| *c == b'\n').unwrap() + 20;
        std::fs::write(&seg, &b[..cut]).unwrap();
        let damaged = std::fs::read(&seg).unwrap();

        acknowledged_not_cut(name, &data, &cfg, "heartbeat", &seg, &damaged);
    }
}

/// `journal verify` says the damage is dangerous (with `evidence` named) and no torn-tail
/// repair; `ballast heal` reports it DANGEROUS and leaves the damaged segment `seg` as it is.
fn acknowledged_not_cut(
    name: &str,
    data: &Path,
    cfg: &Path,
    evidence: &str,
    seg: &Path,
    damaged: &[u8],
) {
    let (code, report) = verify(data);
    assert_eq!(code, 2, "{name}: {report}");
    assert!(
        report.contains(evidence) && report.contains("not a torn-tail repair"),
        "{name}: {report}"
    );
    let out = ballast()
        .args(["heal", "--data-dir"])
        .arg(data)
        .arg("--config")
        .arg(cfg)
        .output()
        .unwrap();
    assert!(
        text(&out.stdout).contains("DANGEROUS"),
        "{name}: {}",
        text(&out.stdout)
    );
    assert_eq!(std::fs::read(seg).unwrap(), damaged, "{name}: heal cut it");
}
