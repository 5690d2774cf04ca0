//! The self-heal over real files and processes (SPEC §4): every heal with its before and after
//! and what went to quarantine; dangerous findings that hold a live engine and let a paper one
//! start; `ballast heal --dry-run` leaving the directory tree exactly as it was; the running
//! supervisor recreating a deleted directory and restarting a service whose declared
//! heartbeat went stale.
//!
//! Every wait polls a condition with a deadline; none sleeps a fixed time hoping.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use common::{Sup, alive, ballast, state};
use serde_json::{Value, json};

/// `ballast heal [extra] --json` on `data` with `config`: exit code and the report.
fn heal(data: &Path, config: Option<&Path>, extra: &[&str]) -> (i32, Value) {
    // `ballast heal` acts on a data directory that exists (what is missing inside it, it
    // creates).
    std::fs::create_dir_all(data).unwrap();
    let mut c = ballast();
    c.arg("heal")
        .args(extra)
        .arg("--json")
        .arg("--data-dir")
        .arg(data);
    if let Some(cfg) = config {
        c.arg("--config").arg(cfg);
    }
    let out = c.output().unwrap();
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "heal printed no JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), report)
}

/// The plan's actions as (component, class, op).
fn actions(report: &Value) -> Vec<(String, String, String)> {
    report["plan"]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["component"].as_str().unwrap().to_owned(),
                a["class"].as_str().unwrap().to_owned(),
                a["op"]["op"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The applied action on `target` (panics when there is none).
fn applied<'a>(report: &'a Value, target_contains: &str) -> &'a Value {
    report["applied"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| {
            a["action"]["target"]
                .as_str()
                .is_some_and(|t| t.contains(target_contains))
        })
        .unwrap_or_else(|| panic!("nothing applied to {target_contains}: {report:#}"))
}

/// Content of the quarantined copy an applied action names (relative to `data`, or absolute).
fn quarantined(data: &Path, a: &Value) -> Vec<u8> {
    let q = a["quarantined"].as_str().expect("a quarantined copy");
    let p = Path::new(q);
    let p = if p.is_absolute() {
        p.to_path_buf()
    } else {
        data.join(p)
    };
    assert!(
        p.file_name()
            .unwrap()
            .to_string_lossy()
            .contains(".corrupt."),
        "{}",
        p.display()
    );
    std::fs::read(&p).unwrap()
}

fn engine(data: &Path, config: &Path, bars: u32) {
    let out = common::standalone_engine(data, config, bars);
    common::process::assert_ok(&out);
}

fn write_config(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("ballast.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn age(path: &Path, secs: u64) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(secs))
        .unwrap();
}

/// Every entry under `root`: relative path, mode, and content (files) — what a heal could
/// change.
fn tree(root: &Path) -> Vec<(String, u32, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let m = e.path().symlink_metadata().unwrap();
            let rel = e.path().strip_prefix(root).unwrap().display().to_string();
            let content = if m.is_file() {
                std::fs::read(e.path()).unwrap()
            } else {
                Vec::new()
            };
            out.push((rel, m.permissions().mode(), content));
            if m.is_dir() {
                stack.push(e.path());
            }
        }
    }
    out.sort();
    out
}

fn segment(data: &Path) -> PathBuf {
    let dir = data.join("journal/engine");
    let mut segs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    segs.sort();
    segs.pop().unwrap()
}

const SNAPSHOTS: &str = "[journal]\nsnapshot_every_records = 100\n";

#[test]
fn data_directories_are_recreated_and_a_file_in_their_place_is_quarantined() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (code, _) = heal(&data, None, &[]);
    assert_eq!(code, 0);
    std::fs::remove_dir(data.join("logs")).unwrap();
    std::fs::remove_dir(data.join("run")).unwrap();
    std::fs::write(data.join("run"), b"not a directory").unwrap();
    let (code, r) = heal(&data, None, &[]);
    assert_eq!(code, 0, "{r:#}");
    assert!(data.join("logs").is_dir() && data.join("run").is_dir());
    let logs = applied(&r, "logs");
    assert_eq!(
        (logs["before"].as_str(), logs["after"].as_str()),
        (Some("missing"), Some("directory"))
    );
    let run = applied(&r, "run");
    assert_eq!(quarantined(&data, run), b"not a directory");
    assert!(
        run["quarantined"]
            .as_str()
            .unwrap()
            .starts_with("quarantine/run.corrupt.")
    );
    // Every applied heal is an ops-journal event with before and after.
    let dump = ballast()
        .args(["journal", "dump", "--ops", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    let dump = String::from_utf8_lossy(&dump.stdout);
    assert!(
        dump.lines().any(|l| l.contains("heal.applied")
            && l.contains("\"target\":\"run\"")
            && l.contains("\"before\":\"a non-directory of 15 bytes\"")),
        "{dump}"
    );
}

#[test]
fn a_torn_journal_tail_is_cut_kept_in_quarantine_and_the_engine_continues() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = write_config(tmp.path(), SNAPSHOTS);
    let data = tmp.path().join("data");
    engine(&data, &cfg, 120);
    let seg = segment(&data);
    let good = std::fs::read(&seg).unwrap();
    let mut torn = good.clone();
    torn.extend_from_slice(b"{\"v\":1,\"seq\":99999,\"ty");
    std::fs::write(&seg, &torn).unwrap();

    let (code, r) = heal(&data, Some(&cfg), &[]);
    assert_eq!(code, 0, "{r:#}");
    let a = applied(&r, "journal/engine/");
    assert_eq!(a["action"]["op"]["op"], "truncate");
    assert_eq!(a["before"], format!("{} bytes", torn.len()));
    assert_eq!(a["after"], format!("{} bytes", good.len()));
    assert_eq!(
        std::fs::read(&seg).unwrap(),
        good,
        "exactly the torn bytes are cut"
    );
    assert_eq!(
        quarantined(&data, a),
        torn,
        "the original, whole, is in quarantine"
    );
    assert!(
        a["quarantined"]
            .as_str()
            .unwrap()
            .starts_with("quarantine/journal/engine/")
    );
    // The engine carries on from the healed journal.
    engine(&data, &cfg, 10);
    assert_eq!(heal(&data, Some(&cfg), &[]).1["plan"]["actions"], json!([]));
}

#[test]
fn corrupt_and_leftover_snapshots_move_to_quarantine() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = write_config(tmp.path(), SNAPSHOTS);
    let data = tmp.path().join("data");
    engine(&data, &cfg, 250);
    let state = data.join("state");
    let mut snaps: Vec<PathBuf> = std::fs::read_dir(&state)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().contains("engine.snapshot."))
        .collect();
    snaps.sort();
    let newest = snaps.pop().unwrap();
    let mut bytes = std::fs::read(&newest).unwrap();
    let i = bytes.len() / 2;
    bytes[i] ^= 0x01;
    std::fs::write(&newest, &bytes).unwrap();
    let temp = state.join(".engine.snapshot.00000000000000009999.json.tmp");
    std::fs::write(&temp, b"half a snapshot").unwrap();
    // The pipeline report (decision tracker, pipeline monitor, shadow totals) too.
    let pipeline = std::fs::read_dir(&state)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().contains("pipeline.snapshot."))
        .unwrap();
    std::fs::write(&pipeline, b"{\"v\":1,\"seq\":").unwrap();

    let (code, r) = heal(&data, Some(&cfg), &[]);
    assert_eq!(code, 0, "{r:#}");
    let name = newest.file_name().unwrap().to_string_lossy().into_owned();
    let a = applied(&r, &name);
    assert!(
        a["action"]["reason"].as_str().unwrap().contains("corrupt"),
        "{a:#}"
    );
    assert_eq!(quarantined(&data, a), bytes);
    assert!(!newest.exists() && !temp.exists());
    assert_eq!(quarantined(&data, applied(&r, ".tmp")), b"half a snapshot");
    let p = pipeline.file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(quarantined(&data, applied(&r, &p)), b"{\"v\":1,\"seq\":");
    // Recovery now uses the older snapshot plus a longer replay.
    engine(&data, &cfg, 5);
}

#[test]
fn stale_locks_are_moved_aside_and_live_or_young_ones_stay() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    heal(&data, None, &[]);
    let run = data.join("run");
    // A dead owner (a child that has exited), old.
    let mut child = Command::new("/bin/true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    std::fs::write(run.join("dead.pid"), format!("{dead}\n")).unwrap();
    age(&run.join("dead.pid"), 600);
    // Alive, but another process than the one that wrote it (its start time differs).
    let me = std::process::id();
    std::fs::write(
        run.join("reused.lock"),
        json!({"pid": me, "start_time": 1}).to_string(),
    )
    .unwrap();
    age(&run.join("reused.lock"), 600);
    // Alive with no recorded start time: owned.
    std::fs::write(run.join("mine.lock"), format!("{me}")).unwrap();
    age(&run.join("mine.lock"), 600);
    // Dead but young: left alone for now.
    std::fs::write(run.join("young.pid"), format!("{dead}")).unwrap();

    let (code, r) = heal(&data, None, &[]);
    assert_eq!(code, 0, "{r:#}");
    let got = actions(&r);
    assert_eq!(got.len(), 2, "{r:#}");
    let a = applied(&r, "dead.pid");
    assert!(
        a["action"]["reason"]
            .as_str()
            .unwrap()
            .contains(&format!("owner pid {dead} is dead"))
    );
    assert_eq!(quarantined(&data, a), format!("{dead}\n").as_bytes());
    let b = applied(&r, "reused.lock");
    assert!(
        b["action"]["reason"]
            .as_str()
            .unwrap()
            .contains("pid reused")
    );
    assert!(!run.join("dead.pid").exists() && !run.join("reused.lock").exists());
    assert!(run.join("mine.lock").exists() && run.join("young.pid").exists());
}

#[test]
fn permissions_and_a_corrupt_health_snapshot_are_healed() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    heal(&data, None, &[]);
    let f = data.join("state/notes.json");
    std::fs::write(&f, b"{}").unwrap();
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o444)).unwrap();
    std::fs::write(data.join("state/health.json"), b"{\"overall\": ").unwrap();

    let (code, r) = heal(&data, None, &[]);
    assert_eq!(code, 0, "{r:#}");
    let p = applied(&r, "notes.json");
    assert_eq!(
        (p["before"].as_str(), p["after"].as_str()),
        (Some("mode 0444"), Some("mode 0644"))
    );
    assert_eq!(
        std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
        0o644
    );
    let h = applied(&r, "health.json");
    assert_eq!(quarantined(&data, h), b"{\"overall\": ");
    assert!(!data.join("state/health.json").exists());
}

fn artifacts_config(dir: &Path, sweep: u32) -> String {
    format!(
        "[engine]\nenabled = false\n[heal]\nsweep_secs = {sweep}\n
[[services]]
name = \"bot\"
command = \"/bin/sleep\"
args = [\"1000\"]
cwd = \"{cwd}\"

[[artifacts]]
service = \"bot\"
kind = \"json\"
path = \"state.json\"
default = '{{\"positions\": [], \"cash\": 0, \"version\": 2}}'
required_keys = [\"positions\", \"cash\"]

[[artifacts]]
service = \"bot\"
kind = \"json\"
path = \"config/settings.json\"
default = '{{\"risk\": 1}}'

[[artifacts]]
service = \"bot\"
kind = \"jsonl\"
path = \"signals.jsonl\"

[[artifacts]]
service = \"bot\"
kind = \"dir\"
path = \"models\"

[[artifacts]]
service = \"bot\"
kind = \"lock\"
path = \"bot.pid\"
",
        cwd = dir.display()
    )
}

#[test]
fn declared_artifacts_are_salvaged_created_and_cleaned_next_to_themselves() {
    let tmp = tempfile::tempdir().unwrap();
    let bot = tmp.path().join("bot");
    std::fs::create_dir_all(&bot).unwrap();
    let cfg = write_config(tmp.path(), &artifacts_config(&bot, 10));
    let data = tmp.path().join("data");
    let broken =
        b"{\"cash\": 1500.25, \"positions\": [{\"sym\": \"AAPL\", \"qty\": 3}], \"extra\": tru";
    std::fs::write(bot.join("state.json"), broken).unwrap();
    let lines = "{\"id\":1}\n{\"id\":2\ngarbage\n{\"id\":3}\n";
    std::fs::write(bot.join("signals.jsonl"), lines).unwrap();
    let mut child = Command::new("/bin/true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    std::fs::write(bot.join("bot.pid"), dead.to_string()).unwrap();
    age(&bot.join("bot.pid"), 3600);

    let (code, r) = heal(&data, Some(&cfg), &[]);
    assert_eq!(code, 0, "{r:#}");
    assert!(
        r["plan"]["actions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["component"] == "artifact:bot" || a["component"] == "data_dirs"),
        "{r:#}"
    );

    // json: what parses is salvaged, the missing key filled, the original kept next to it.
    let doc: Value =
        serde_json::from_slice(&std::fs::read(bot.join("state.json")).unwrap()).unwrap();
    assert_eq!(
        doc,
        json!({"cash": 1500.25, "positions": [{"sym": "AAPL", "qty": 3}], "version": 2})
    );
    let a = applied(&r, "state.json");
    assert_eq!(quarantined(&data, a), broken);
    assert!(
        a["quarantined"]
            .as_str()
            .unwrap()
            .starts_with(&bot.join("state.json.corrupt.").display().to_string())
    );
    // json missing: created from its default (with its directory).
    let settings: Value =
        serde_json::from_slice(&std::fs::read(bot.join("config/settings.json")).unwrap()).unwrap();
    assert_eq!(settings, json!({"risk": 1}));
    // jsonl: valid lines kept in order, the bad ones quarantined with their line numbers.
    assert_eq!(
        std::fs::read_to_string(bot.join("signals.jsonl")).unwrap(),
        "{\"id\":1}\n{\"id\":3}\n"
    );
    assert_eq!(
        quarantined(&data, applied(&r, "signals.jsonl")),
        b"2\t{\"id\":2\n3\tgarbage\n"
    );
    // dir and lock.
    assert!(bot.join("models").is_dir());
    assert!(!bot.join("bot.pid").exists());
    assert_eq!(
        quarantined(&data, applied(&r, "bot.pid")),
        dead.to_string().as_bytes()
    );
    // Nothing is left to do.
    assert_eq!(heal(&data, Some(&cfg), &[]).1["plan"]["actions"], json!([]));
}

#[test]
fn heal_dry_run_changes_nothing_and_lists_what_heal_then_does() {
    let tmp = tempfile::tempdir().unwrap();
    let bot = tmp.path().join("bot");
    std::fs::create_dir_all(&bot).unwrap();
    let cfg_text = format!(
        "{SNAPSHOTS}{}",
        artifacts_config(&bot, 10).replacen("[engine]\nenabled = false\n", "", 1)
    );
    let cfg = write_config(tmp.path(), &cfg_text);
    let data = tmp.path().join("data");
    engine(&data, &cfg, 150);
    // Damage of every safe kind at once.
    let seg = segment(&data);
    let mut torn = std::fs::read(&seg).unwrap();
    torn.extend_from_slice(b"{\"v\":1,");
    std::fs::write(&seg, &torn).unwrap();
    std::fs::remove_dir(data.join("inbox")).unwrap();
    std::fs::write(
        data.join("state/.engine.snapshot.00000000000000000777.json.tmp"),
        b"x",
    )
    .unwrap();
    std::fs::write(data.join("state/health.json"), b"nope").unwrap();
    std::fs::set_permissions(
        data.join("state/health.json"),
        std::fs::Permissions::from_mode(0o400),
    )
    .unwrap();
    std::fs::write(data.join("run/old.pid"), b"999999999").unwrap();
    age(&data.join("run/old.pid"), 600);
    std::fs::write(bot.join("state.json"), b"[").unwrap();
    std::fs::write(bot.join("signals.jsonl"), b"x\n{}\n").unwrap();

    let before = (tree(&data), tree(&bot));
    let (code, plan) = heal(&data, Some(&cfg), &["--dry-run"]);
    assert_eq!(code, 0, "{plan:#}");
    assert_eq!(
        (tree(&data), tree(&bot)),
        before,
        "a dry run changes nothing"
    );
    assert_eq!(plan["dry_run"], true);
    assert_eq!(plan["applied"], json!([]));
    let planned = actions(&plan);
    for want in [
        ("data_dirs", "create_dir"),
        ("journal", "truncate"),
        ("snapshots", "move_aside"),
        ("locks", "move_aside"),
        ("permissions", "make_writable"),
        ("health_snapshot", "move_aside"),
        ("artifact:bot", "rewrite"),
        ("artifact:bot", "create_file"),
        ("artifact:bot", "create_dir"),
    ] {
        assert!(
            planned
                .iter()
                .any(|(c, class, op)| c == want.0 && op == want.1 && class == "heal"),
            "{want:?} not planned: {planned:?}"
        );
    }
    // The human form says the same and that nothing changed.
    let text = ballast()
        .args(["heal", "--dry-run", "--data-dir"])
        .arg(&data)
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("dry run: nothing changed") && text.contains("[would apply]"),
        "{text}"
    );
    assert_eq!((tree(&data), tree(&bot)), before);

    // The real run applies exactly the plan, and then there is nothing left.
    let (code, done) = heal(&data, Some(&cfg), &[]);
    assert_eq!(code, 0, "{done:#}");
    assert_eq!(actions(&done), planned);
    assert!(
        done["applied"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["error"].is_null()),
        "{done:#}"
    );
    assert_eq!(
        heal(&data, Some(&cfg), &["--dry-run"]).1["plan"]["actions"],
        json!([])
    );
}

#[test]
fn orphans_are_killed_in_paper_mode_and_left_running_in_live_mode() {
    let tmp = tempfile::tempdir().unwrap();
    let data = std::path::absolute(tmp.path().join("data")).unwrap();
    heal(&data, None, &[]);
    let spawn = || {
        Command::new("/bin/sleep")
            .arg("1000")
            .env("BALLAST_DATA_DIR", &data)
            .env("BALLAST_SUPERVISOR_PID", "999999999")
            .env("BALLAST_SERVICE", "bot")
            .process_group(0)
            .stdout(Stdio::null())
            .spawn()
            .unwrap()
    };
    use std::os::unix::process::CommandExt;
    let mut live_orphan = spawn();
    let live = write_config(tmp.path(), "[general]\nmode = \"live\"\n");
    let (code, r) = heal(&data, Some(&live), &[]);
    let pid = live_orphan.id() as i32;
    assert_eq!(code, 0, "skipped is not dangerous: {r:#}");
    assert_eq!(
        actions(&r),
        vec![("orphans".into(), "skip".into(), "report".into())]
    );
    assert!(
        r["plan"]["actions"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("live mode never kills it")
    );
    assert!(alive(pid), "live mode leaves it running");

    let (code, r) = heal(&data, None, &[]);
    assert_eq!(code, 0, "{r:#}");
    let a = applied(&r, &format!("pid {pid}"));
    assert_eq!(a["after"], "process group killed");
    let status = live_orphan.wait().unwrap();
    assert!(!status.success(), "killed: {status:?}");
}

#[test]
fn dangerous_findings_hold_a_live_engine_and_let_a_paper_engine_start() {
    // Each case: a name and what it does to a data directory the engine has written.
    type Damage = fn(&Path);
    fn snapshot_with_positions(data: &Path, positions: Value) {
        let state = data.join("state");
        let mut snaps: Vec<PathBuf> = std::fs::read_dir(&state)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.to_string_lossy().contains("/engine.snapshot."))
            .collect();
        snaps.sort();
        let newest = snaps.pop().unwrap();
        let line = std::fs::read_to_string(&newest).unwrap();
        let rec: Value = serde_json::from_str(&line).unwrap();
        // The body is the state bound to its journal record: keep the binding.
        let mut body = rec["body"]["state"].clone();
        body["portfolio"]["positions"] = positions;
        let crc = u32::from_str_radix(rec["body"]["bound"]["crc"].as_str().unwrap(), 16).unwrap();
        let seq = rec["seq"].as_u64().unwrap();
        let layout = ballast_store::Layout::new(data);
        let clock = ballast_core::ManualClock::new(ballast_core::Timestamp::from_unix_ms(0));
        ballast_store::snapshot::Snapshots {
            storage: &ballast_store::RealStorage,
            layout: &layout,
            clock: &clock,
            name: "engine",
            retain: 10,
        }
        .write(seq, crc, &body)
        .unwrap();
    }
    let cases: Vec<(&str, &str, Damage)> = vec![
        ("corruption mid-journal", "journal", |data| {
            let seg = segment(data);
            let text = std::fs::read_to_string(&seg).unwrap();
            let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
            lines[5] = lines[5].replace("\"v\":1", "\"v\":1 ");
            std::fs::write(&seg, lines.join("\n") + "\n").unwrap();
        }),
        ("a record of a newer format", "journal", |data| {
            // A valid record (its checksum right) that this build cannot read.
            let seg = segment(data);
            let text = std::fs::read_to_string(&seg).unwrap();
            let last: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
            let seq = last["seq"].as_u64().unwrap() + 1;
            let line = format!(
                r#"{{"v":9,"seq":{seq},"ts":"2026-01-01T00:00:00.000Z","type":"market.bar","body":{{}}"#
            );
            let crc = crc32c::crc32c(line.as_bytes());
            std::fs::write(&seg, format!("{text}{line},\"crc\":\"{crc:08x}\"}}\n")).unwrap();
        }),
        ("a snapshot of a newer format", "snapshots", |data| {
            let seq = 999_999u64;
            let line = format!(
                r#"{{"v":9,"seq":{seq},"ts":"2026-01-01T00:00:00.000Z","type":"snapshot","body":{{}}"#
            );
            let crc = crc32c::crc32c(line.as_bytes());
            std::fs::write(
                data.join(format!("state/engine.snapshot.{seq:020}.json")),
                format!("{line},\"crc\":\"{crc:08x}\"}}\n"),
            )
            .unwrap();
        }),
        ("entry price <= 0", "engine_state", |data| {
            snapshot_with_positions(
                data,
                json!({"AAPL": {"symbol": "AAPL", "qty": "10", "avg_entry_price": "0", "realized_pnl": "0"}}),
            )
        }),
        ("size 0 with a price", "engine_state", |data| {
            snapshot_with_positions(
                data,
                json!({"IBM": {"symbol": "IBM", "qty": "0", "avg_entry_price": "12.5", "realized_pnl": "0"}}),
            )
        }),
        ("duplicate position", "engine_state", |data| {
            snapshot_with_positions(
                data,
                json!({
                    "AAPL": {"symbol": "AAPL", "qty": "10", "avg_entry_price": "50", "realized_pnl": "0"},
                    "AAPLX": {"symbol": "AAPL", "qty": "5", "avg_entry_price": "51", "realized_pnl": "0"}
                }),
            )
        }),
    ];
    for (name, component, damage) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let paper_cfg = write_config(tmp.path(), SNAPSHOTS);
        let data = tmp.path().join("data");
        engine(&data, &paper_cfg, 150);
        damage(&data);

        let (code, r) = heal(&data, Some(&paper_cfg), &[]);
        assert_eq!(code, 1, "{name}: dangerous is exit 1: {r:#}");
        let found = actions(&r);
        assert!(
            found
                .iter()
                .any(|(c, class, _)| c == component && class == "dangerous"),
            "{name}: {found:?}"
        );
        // Paper starts anyway — except on a newer format, which the engine refuses in every
        // mode (and heal says so).
        assert_eq!(
            r["engine_may_start"],
            !name.contains("newer format"),
            "{name}: {r:#}"
        );

        // Live: the supervisor stays up, the engine is held with the reason.
        let live = Sup::start(
            tmp.path(),
            &format!("{SNAPSHOTS}[general]\nmode = \"live\"\n"),
        );
        let s = live.wait_for("the engine held", |s| state(s, "engine") == "HELD");
        let why = Sup::service(&s, "engine")["last_exit"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(
            why.contains("live start refused") && why.contains(component),
            "{name}: {why}"
        );
        assert!(Sup::service(&s, "engine")["pid"].is_null());
        drop(live);

        // Paper: the engine is started.
        let paper = Sup::start(tmp.path(), SNAPSHOTS);
        paper.wait_for("the engine started", |s| {
            state(s, "engine") != "HELD" && Sup::service(s, "engine")["pid"].is_i64()
                || Sup::service(s, "engine")["restarts"].as_u64() > Some(0)
        });
        if name.contains("newer format") {
            // A schema problem in a critical subsystem: FAILED_API_SCHEMA, not a restart loop
            // of guesses (the engine itself refuses the journal).
            let out = paper.cli(&["health", "--json"]);
            let h: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(h["overall"], "FAILED_API_SCHEMA", "{h:#}");
        }
        paper.stop();
    }
}

#[test]
fn the_running_supervisor_recreates_a_deleted_directory_and_restarts_a_stale_heartbeat() {
    let tmp = tempfile::tempdir().unwrap();
    let bot = tmp.path().join("bot");
    std::fs::create_dir_all(&bot).unwrap();
    let starts = bot.join("starts");
    let config = format!(
        "[engine]\nenabled = false\n[heal]\nsweep_secs = 1\n
[[services]]
name = \"bot\"
command = \"/bin/sh\"
args = [\"-c\", \"echo start >> {starts}; touch hb; exec sleep 1000\"]
cwd = \"{cwd}\"
min_uptime_secs = 0

[[artifacts]]
service = \"bot\"
kind = \"heartbeat\"
path = \"hb\"
max_age_secs = 1
",
        starts = starts.display(),
        cwd = bot.display()
    );
    let sup = Sup::start(tmp.path(), &config);
    sup.wait_for("bot running", |s| state(s, "bot") == "RUNNING");
    let data = tmp.path().join("data");

    // inotify: a deleted directory comes back without waiting for the sweep.
    std::fs::remove_dir(data.join("inbox")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !data.join("inbox").is_dir() {
        assert!(Instant::now() < deadline, "inbox was not recreated");
        std::thread::sleep(Duration::from_millis(5));
    }

    // The bot touches its heartbeat once, then never again: the healer restarts it.
    sup.wait_for("a restart by the healer", |s| {
        std::fs::read_to_string(&starts).is_ok_and(|t| t.lines().count() >= 2)
            && state(s, "bot") == "RUNNING"
    });
    let err = std::fs::read_to_string(tmp.path().join("supervisor.err")).unwrap();
    assert_eq!(
        err.matches("heal: data_dirs inbox: directory missing: created")
            .count(),
        2,
        "at startup and after the deletion: {err}"
    );
    assert!(
        !err.contains("orphans"),
        "its own services are not orphans: {err}"
    );
    assert!(
        err.contains("heal: artifact:bot ") && err.contains("service bot restarted"),
        "{err}"
    );
    sup.stop();
}

#[test]
fn a_crashed_service_s_half_written_file_is_healed_before_it_restarts() {
    let tmp = tempfile::tempdir().unwrap();
    let bot = tmp.path().join("bot");
    std::fs::create_dir_all(&bot).unwrap();
    let starts = bot.join("starts");
    let config = format!(
        "[engine]\nenabled = false\n[heal]\nsweep_secs = 3600\n
[[services]]
name = \"bot\"
command = \"/bin/sh\"
args = [\"-c\", \"echo start >> {starts}; printf '{{\\\"cash\\\": 12, \\\"pos' > state.json; exit 1\"]
cwd = \"{cwd}\"
restart_delay_ms = 5000

[[artifacts]]
service = \"bot\"
kind = \"json\"
path = \"state.json\"
default = '{{\"cash\": 0, \"positions\": []}}'
required_keys = [\"cash\", \"positions\"]
",
        starts = starts.display(),
        cwd = bot.display()
    );
    let sup = Sup::start(tmp.path(), &config);
    // The sweep is an hour away: only the child's exit can trigger the heal. (Before the bot
    // starts, the startup self-heal creates the file from its default; the bot then overwrites
    // it with half a document and exits.)
    let want = json!({"cash": 12, "positions": []});
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let parsed: Option<Value> = std::fs::read(bot.join("state.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        if parsed.as_ref() == Some(&want) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "state.json was never salvaged: {parsed:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        std::fs::read_to_string(&starts).unwrap().lines().count(),
        1,
        "healed before the restart"
    );
    // `ballast heal` reaches the running supervisor, which does the work.
    let out = sup.cli(&["heal", "--dry-run"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("by the running supervisor"), "{text}");
    sup.stop();
}

#[test]
fn a_declared_file_damaged_while_the_supervisor_runs_is_healed_on_the_change() {
    let tmp = tempfile::tempdir().unwrap();
    let bot = tmp.path().join("bot");
    std::fs::create_dir_all(&bot).unwrap();
    let signals = bot.join("signals.jsonl");
    std::fs::write(&signals, "{\"id\":1}\n").unwrap();
    let config = format!(
        "[engine]\nenabled = false\n[heal]\nsweep_secs = 3600\n
[[services]]
name = \"bot\"
command = \"/bin/sh\"
# Lives as long as its supervisor (no orphan if a test fails).
args = [\"-c\", \"while kill -0 $BALLAST_SUPERVISOR_PID 2>/dev/null; do sleep 0.2; done\"]
cwd = \"{cwd}\"
min_uptime_secs = 0

[[artifacts]]
service = \"bot\"
kind = \"jsonl\"
path = \"signals.jsonl\"
",
        cwd = bot.display()
    );
    let sup = Sup::start(tmp.path(), &config);
    sup.wait_for("bot running", |s| state(s, "bot") == "RUNNING");
    // The sweep is an hour away: the write itself (inotify) triggers the heal.
    std::fs::write(&signals, "{\"id\":1}\n{\"id\": tru\n{\"id\":3}\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::read_to_string(&signals).unwrap() != "{\"id\":1}\n{\"id\":3}\n" {
        assert!(Instant::now() < deadline, "not healed on the change");
        std::thread::sleep(Duration::from_millis(5));
    }
    let quarantined: Vec<PathBuf> = std::fs::read_dir(&bot)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().contains("signals.jsonl.corrupt."))
        .collect();
    assert_eq!(quarantined.len(), 1);
    assert_eq!(
        std::fs::read_to_string(&quarantined[0]).unwrap(),
        "2\t{\"id\": tru\n"
    );
    sup.stop();
}

fn mkfifo(path: &Path) {
    assert!(Command::new("mkfifo").arg(path).status().unwrap().success());
}

#[test]
fn item_12_heal_and_the_engine_read_no_fifo_device_or_file_over_1_mib() {
    let tmp = tempfile::tempdir().unwrap();
    let bot = tmp.path().join("bot");
    std::fs::create_dir_all(&bot).unwrap();
    let cfg = write_config(tmp.path(), &artifacts_config(&bot, 10));
    let data = tmp.path().join("data");
    std::fs::create_dir_all(data.join("state")).unwrap();
    std::fs::create_dir_all(data.join("run")).unwrap();
    // Declared files: a FIFO where a JSON document should be, a lock that is a FIFO, a JSONL
    // file over the bound; Ballast's own: health.json and a lock as FIFOs.
    mkfifo(&bot.join("state.json"));
    mkfifo(&bot.join("bot.pid"));
    let big = "{\"id\":1}\n".repeat(2 * 1024 * 1024 / 9);
    std::fs::write(bot.join("signals.jsonl"), &big).unwrap();
    mkfifo(&data.join("state/health.json"));
    mkfifo(&data.join("run/other.lock"));
    mkfifo(&data.join("run/engine.lock"));
    let out = common::output_within(
        ballast()
            .args(["heal", "--dry-run", "--json", "--data-dir"])
            .arg(&data)
            .arg("--config")
            .arg(&cfg),
        20,
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
    });
    let find = |target: &str| -> Value {
        r["plan"]["actions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["target"].as_str().is_some_and(|t| t.ends_with(target)))
            .cloned()
            .unwrap_or_else(|| panic!("no action on {target}: {r:#}"))
    };
    let state = find("state.json");
    assert_eq!(state["class"], "skip", "{state:#}");
    assert!(
        state["reason"]
            .as_str()
            .unwrap()
            .contains("a FIFO (named pipe), not a regular file"),
        "{state:#}"
    );
    let lines = find("signals.jsonl");
    assert_eq!(lines["class"], "skip", "{lines:#}");
    let why = lines["reason"].as_str().unwrap();
    assert!(
        why.contains(&format!("{} bytes", big.len())) && why.contains("1048576 bytes"),
        "{why}"
    );
    let health = find("health.json");
    assert!(
        health["reason"].as_str().unwrap().contains("FIFO"),
        "{health:#}"
    );
    // The bounded file is left as it was.
    assert_eq!(
        std::fs::read(bot.join("signals.jsonl")).unwrap(),
        big.as_bytes()
    );

    // The engine does not block on a kill switch or a policy file that is a FIFO: the kill
    // switch is engaged (present), the policy file unreadable (the journaled one stays).
    std::fs::remove_file(data.join("state/health.json")).unwrap();
    std::fs::remove_file(data.join("run/engine.lock")).unwrap();
    mkfifo(&data.join("KILL_SWITCH"));
    mkfifo(&data.join("state/policy.json"));
    std::fs::create_dir_all(data.join("inbox")).unwrap();
    mkfifo(&data.join("inbox/signals.jsonl"));
    let out = common::output_within(
        ballast()
            .args([
                "engine",
                "--standalone",
                "--bars-per-second",
                "0",
                "--max-bars",
                "20",
                "--data-dir",
            ])
            .arg(&data),
        30,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("KILL SWITCH ENGAGED"), "{err}");
    assert!(err.contains("state/policy.json"), "{err}");
    assert_eq!(
        err.matches("inbox/signals.jsonl is not a regular file")
            .count(),
        1,
        "said once: {err}"
    );
}

/// The action on `target` (exactly), if any.
fn action_on(report: &Value, target: &str) -> Option<Value> {
    report["plan"]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["target"] == target)
        .cloned()
}

#[test]
fn item_8_a_symlinked_ballast_directory_is_dangerous_and_nothing_is_written_through_it() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = write_config(tmp.path(), SNAPSHOTS);
    let data = tmp.path().join("data");
    engine(&data, &cfg, 120);
    let seg = segment(&data);
    let mut torn = std::fs::read(&seg).unwrap();
    torn.extend_from_slice(b"{\"v\":1,\"seq\":99999,\"ty");
    std::fs::write(&seg, &torn).unwrap();
    let outside = tmp.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::remove_dir(data.join("quarantine")).unwrap();
    std::os::unix::fs::symlink(&outside, data.join("quarantine")).unwrap();

    // The dry run says so, and plans nothing through the link.
    let (_, r) = heal(&data, Some(&cfg), &["--dry-run"]);
    let link = action_on(&r, "quarantine").unwrap_or_else(|| panic!("{r:#}"));
    assert_eq!(link["class"], "dangerous", "{link:#}");
    let why = link["reason"].as_str().unwrap();
    assert!(
        why.contains("symbolic link") && why.contains(&outside.display().to_string()),
        "{why}"
    );
    let tail = r["plan"]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["component"] == "journal")
        .cloned()
        .unwrap_or_else(|| panic!("{r:#}"));
    assert_ne!(tail["class"], "heal", "{tail:#}");
    assert!(
        tail["reason"].as_str().unwrap().contains("quarantine"),
        "{tail:#}"
    );

    // The heal writes nothing outside and leaves the journal as it is.
    let (code, r) = heal(&data, Some(&cfg), &[]);
    assert_ne!(code, 0, "a dangerous finding: {r:#}");
    assert_eq!(
        std::fs::read_dir(&outside).unwrap().count(),
        0,
        "nothing written through the link"
    );
    assert_eq!(std::fs::read(&seg).unwrap(), torn);
    assert!(action_on(&r, "quarantine").is_some_and(|a| a["class"] == "dangerous"));

    // The class: each of Ballast's own directories (and its kill switch) as a link.
    std::fs::remove_file(data.join("quarantine")).unwrap();
    std::fs::create_dir(data.join("quarantine")).unwrap();
    for own in ["state", "logs", "run", "inbox", "journal/ops"] {
        let moved = tmp.path().join(format!("moved-{}", own.replace('/', "-")));
        std::fs::rename(data.join(own), &moved).unwrap();
        std::os::unix::fs::symlink(&moved, data.join(own)).unwrap();
    }
    std::os::unix::fs::symlink(outside.join("KS"), data.join("KILL_SWITCH")).unwrap();
    let (_, r) = heal(&data, Some(&cfg), &["--dry-run"]);
    for own in [
        "state",
        "logs",
        "run",
        "inbox",
        "journal/ops",
        "KILL_SWITCH",
    ] {
        assert!(
            action_on(&r, own).is_some_and(|a| a["class"] == "dangerous"),
            "{own}: {r:#}"
        );
    }
    for own in ["state", "logs", "run", "inbox", "journal/ops"] {
        std::fs::remove_file(data.join(own)).unwrap();
        let moved = tmp.path().join(format!("moved-{}", own.replace('/', "-")));
        std::fs::rename(&moved, data.join(own)).unwrap();
    }
    std::fs::remove_file(data.join("KILL_SWITCH")).unwrap();

    // The data directory itself may be a link: the heal works through it, inside it.
    let via = tmp.path().join("via-link");
    std::os::unix::fs::symlink(&data, &via).unwrap();
    let (code, r) = heal(&via, Some(&cfg), &[]);
    assert_eq!(code, 0, "{r:#}");
    let a = applied(&r, "journal/engine/");
    assert_eq!(a["action"]["op"]["op"], "truncate");
    assert_eq!(quarantined(&data, a), torn);
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
}

#[test]
fn item_10b_a_relative_cwd_is_resolved_once_against_the_config_file_and_healed_where_inspected() {
    let tmp = tempfile::tempdir().unwrap();
    let bot = tmp.path().join("bot");
    std::fs::create_dir_all(bot.join("state")).unwrap();
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let cfg = write_config(
        tmp.path(),
        "[engine]\nenabled = false\n
[[services]]
name = \"bot\"
command = \"/bin/sleep\"
args = [\"1000\"]
cwd = \"bot\"

[[artifacts]]
service = \"bot\"
kind = \"json\"
path = \"state/bot.json\"
default = '{\"cash\": 0}'

[[artifacts]]
service = \"bot\"
kind = \"lock\"
path = \"state/bot.lock\"

[[artifacts]]
service = \"bot\"
kind = \"jsonl\"
path = \"state/trades.jsonl\"
",
    );
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(bot.join("state/bot.json"), b"{\"cash\": 12, \"x\": tru").unwrap();
    let mut child = Command::new("/bin/true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    std::fs::write(bot.join("state/bot.lock"), dead.to_string()).unwrap();
    age(&bot.join("state/bot.lock"), 3600);
    std::fs::write(bot.join("state/trades.jsonl"), "{\"id\":1}\nbroken\n").unwrap();

    // Run from another directory: `cwd = "bot"` is the config file's bot/, not ./bot.
    let heal_from = |extra: &[&str]| -> (i32, Value) {
        let out = ballast()
            .current_dir(&elsewhere)
            .arg("heal")
            .args(extra)
            .args(["--json", "--data-dir"])
            .arg(&data)
            .arg("--config")
            .arg(&cfg)
            .output()
            .unwrap();
        let r = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
        });
        (out.status.code().unwrap_or(-1), r)
    };
    let (_, dry) = heal_from(&["--dry-run"]);
    for f in ["bot.json", "bot.lock", "trades.jsonl"] {
        let want = bot.join("state").join(f).display().to_string();
        assert!(
            action_on(&dry, &want).is_some_and(|a| a["class"] == "heal"),
            "{want} shown resolved and planned: {dry:#}"
        );
    }
    let (code, r) = heal_from(&[]);
    assert_eq!(code, 0, "{r:#}");
    assert!(
        r["applied"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["error"].is_null()),
        "{r:#}"
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&std::fs::read(bot.join("state/bot.json")).unwrap())
            .unwrap(),
        json!({"cash": 12})
    );
    assert!(!bot.join("state/bot.lock").exists());
    assert_eq!(
        std::fs::read_to_string(bot.join("state/trades.jsonl")).unwrap(),
        "{\"id\":1}\n"
    );
    // Nothing was made in the data directory's bot/ or an empty quarantine/bot/state.
    assert!(!data.join("bot").exists());
    assert!(!data.join("quarantine/bot").exists());
    assert!(!elsewhere.join("bot").exists());
    assert_eq!(heal_from(&[]).1["plan"]["actions"], json!([]));

    // The supervisor starts the service in the same resolved directory.
    std::fs::write(
        &cfg,
        "[engine]\nenabled = false\n
[[services]]
name = \"bot\"
command = \"/bin/sh\"
args = [\"-c\", \"pwd > where; exec sleep 1000\"]
cwd = \"bot\"
",
    )
    .unwrap();
    let mut sup = ballast()
        .current_dir(&elsewhere)
        .args(["run", "--data-dir"])
        .arg(&data)
        .arg("--config")
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !bot.join("where").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(sup.id() as i32).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    sup.wait().unwrap();
    let pwd = std::fs::read_to_string(bot.join("where")).unwrap_or_default();
    assert_eq!(
        Path::new(pwd.trim()).canonicalize().ok(),
        bot.canonicalize().ok(),
        "the service ran in {pwd:?}"
    );
}
