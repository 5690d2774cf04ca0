//! `clear_cache` under a real supervisor (issue 12 item 5): a declared `cache` artifact is
//! advised to be cleared when the disk is low or its service fails repeatedly; it waits for
//! `ballast approve` unless it says `auto_clear = true`; a clear removes the directory's
//! contents only — a symbolic link inside is removed as a link, what it points to survives —
//! within its bound, and what it removed is counted, printed and journaled.
//!
//! The disk is made to look low honestly: `disk_free_min_pct = 100` makes any disk low (no
//! file system has 100 % free), with `resource_window_secs = 0` so it counts at once.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{Sup, wait_health};
use serde_json::Value;

/// No engine; the disk is low; the service `bot` runs (`sleep`) with its cache `cache`.
fn config(dir: &Path, service: &str, cache: &str) -> String {
    format!(
        "[engine]\nenabled = false\n[health]\ncycle_ms = 100\ncritical_interval_secs = 1\ninterval_secs = 1\ncpu_degraded_pct = 100\nmemory_degraded_pct = 100\n{service}\n[[artifacts]]\nservice = \"bot\"\nkind = \"cache\"\npath = \"cache\"\n{cache}\n[[checks]]\nname = \"config\"\nkind = \"files_present\"\npaths = [\"{}\"]\n",
        dir.join("ballast.toml").display()
    )
}

const LOW_DISK: &str = "disk_free_min_pct = 100\nresource_window_secs = 0\n";

fn running_bot(dir: &Path) -> String {
    format!(
        "{LOW_DISK}\n[[services]]\nname = \"bot\"\ncommand = \"/bin/sleep\"\nargs = [\"1000\"]\ncwd = \"{}\"\n",
        dir.display()
    )
}

/// The cache with two files, a directory, a link to a file outside and a link to a directory
/// outside (which holds a file); the outside things are in `keep/`.
fn fill(dir: &Path) {
    let cache = dir.join("cache");
    std::fs::create_dir_all(cache.join("sub")).unwrap();
    std::fs::write(cache.join("a.bin"), b"12345").unwrap();
    std::fs::write(cache.join("sub/b.bin"), b"123").unwrap();
    let keep = dir.join("keep");
    std::fs::create_dir_all(keep.join("dir")).unwrap();
    std::fs::write(keep.join("target.txt"), b"precious").unwrap();
    std::fs::write(keep.join("dir/inner.txt"), b"precious too").unwrap();
    std::os::unix::fs::symlink(keep.join("target.txt"), cache.join("link")).unwrap();
    std::os::unix::fs::symlink(keep.join("dir"), cache.join("sub/dirlink")).unwrap();
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn ops(sup: &Sup) -> Vec<Value> {
    let out = sup.cli(&["journal", "dump", "--ops", "--json"]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// A record's type and body, as the ops journal writes them.
fn kind(r: &Value) -> &str {
    r["type"].as_str().or(r["kind"].as_str()).unwrap_or("")
}

fn body(r: &Value) -> &Value {
    if r["body"].is_object() { &r["body"] } else { r }
}

fn cleared(sup: &Sup) -> Vec<Value> {
    ops(sup)
        .into_iter()
        .filter(|r| kind(r) == "cache.cleared")
        .collect()
}

/// The `cache.cleared` records, once there is one (at most 30 s).
fn journaled(sup: &Sup, dir: &Path) -> Vec<Value> {
    common::wait::until(
        Duration::from_secs(30),
        || {
            let c = cleared(sup);
            if c.is_empty() { Err(()) } else { Ok(c) }
        },
        |()| {
            format!(
                "no cache.cleared record: {}",
                std::fs::read_to_string(dir.join("supervisor.err")).unwrap_or_default()
            )
        },
    )
}

fn recommendation(h: &Value, id: &str) -> Option<Value> {
    h["recommendations"]
        .as_array()?
        .iter()
        .find(|r| r["id"] == id)
        .cloned()
}

const DISK_CLEAR: &str = "resources/disk_free/clear_cache/cache:bot:cache";

#[test]
fn a_low_disk_advises_clear_cache_which_waits_for_approval_and_removes_only_the_contents() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fill(dir);
    let sup = Sup::start(dir, &config(dir, &running_bot(dir), ""));
    let h = wait_health(&sup, "clear_cache advised", |h| {
        recommendation(h, DISK_CLEAR).is_some()
    });
    let rec = recommendation(&h, DISK_CLEAR).unwrap();
    assert_eq!(rec["state"], "PENDING", "{rec:#}");
    assert_eq!(rec["action"], "clear_cache");
    assert_eq!(rec["target"], "cache:bot:cache");
    assert_eq!(rec["priority"], 1);
    assert_eq!(rec["approve_with"], format!("ballast approve {DISK_CLEAR}"));
    assert!(
        rec["expected"]
            .as_str()
            .unwrap()
            .contains("never the directory itself")
    );
    assert!(
        rec["risks"]
            .as_str()
            .unwrap()
            .contains("rebuilds its cache")
    );
    // `ballast health` shows it with its target and the command that approves it.
    let text = String::from_utf8_lossy(&sup.cli(&["health"]).stdout).into_owned();
    assert!(
        text.contains(&format!(
            "clear_cache on cache:bot:cache: waits for an operator: `ballast approve {DISK_CLEAR}`"
        )),
        "{text}"
    );
    // Nothing is removed before the approval (the recommendation has been open for cycles).
    assert_eq!(entries(&dir.join("cache")), ["a.bin", "link", "sub"]);

    let out = sup.cli(&["approve", DISK_CLEAR]);
    common::process::assert_ok(&out);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        said.contains(
            "2 files (8 bytes freed), 2 links, 1 directory, 0 others removed; nothing is left in it"
        ),
        "{said}"
    );
    // The contents are gone, the directory stays, and what the links pointed to survives.
    assert!(entries(&dir.join("cache")).is_empty());
    assert_eq!(
        std::fs::read_to_string(dir.join("keep/target.txt")).unwrap(),
        "precious"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("keep/dir/inner.txt")).unwrap(),
        "precious too"
    );
    // The ops journal is written by its own thread: the record lands soon after.
    let records = journaled(&sup, dir);
    assert_eq!(records.len(), 1, "{records:?}");
    let body = &records[0];
    let body = if body["body"].is_object() {
        &body["body"]
    } else {
        body
    };
    assert_eq!(
        (body["files"].as_u64(), body["bytes"].as_u64()),
        (Some(2), Some(8))
    );
    assert_eq!(
        (body["links"].as_u64(), body["dirs"].as_u64()),
        (Some(2), Some(1))
    );
    assert!(
        body["by"].as_str().unwrap().starts_with("ballast approve"),
        "{body}"
    );
    assert_eq!(body["path"], dir.join("cache").display().to_string());
    // The supervisor's log says it too.
    let log = std::fs::read_to_string(dir.join("supervisor.err")).unwrap();
    assert!(log.contains("cleared by ballast approve"), "{log}");
    sup.stop();
}

#[test]
fn an_auto_clear_cache_is_cleared_without_approval_in_bounded_chunks() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let cache = dir.join("cache");
    std::fs::create_dir_all(&cache).unwrap();
    for i in 0..5 {
        std::fs::write(cache.join(format!("f{i}")), b"xx").unwrap();
    }
    let sup = Sup::start(
        dir,
        &config(
            dir,
            &running_bot(dir),
            "auto_clear = true\nmax_clear_entries = 3\n",
        ),
    );
    // In chunks of at most 3, one per wake-up of the loop, each journaled: 3 removed and 2
    // left (counted exactly), then the 2.
    let records = common::wait::until(
        Duration::from_secs(30),
        || {
            let c = cleared(&sup);
            if c.len() < 2 { Err(()) } else { Ok(c) }
        },
        |()| "fewer than two cache.cleared records".into(),
    );
    let chunks: Vec<_> = records
        .iter()
        .map(|r| {
            let b = body(r);
            (
                b["chunk"].as_u64(),
                b["files"].as_u64(),
                b["left"].as_u64(),
                b["more"].as_bool(),
                b["continues"].as_bool(),
            )
        })
        .collect();
    assert_eq!(
        chunks,
        [
            (Some(1), Some(3), Some(2), Some(false), Some(true)),
            (Some(2), Some(2), Some(0), Some(false), Some(false))
        ],
        "{records:?}"
    );
    let body = body(&records[0]);
    assert!(
        body["by"].as_str().unwrap().starts_with("auto_clear"),
        "{body}"
    );
    assert!(entries(&cache).is_empty(), "the clear went on until empty");
    let h = wait_health(&sup, "the automatic recommendation", |h| {
        recommendation(h, DISK_CLEAR).is_some()
    });
    let rec = recommendation(&h, DISK_CLEAR).unwrap();
    assert_eq!(rec["state"], "AUTO");
    assert!(rec["approve_with"].is_null());
    // Once while the issue lasts: not again at the next cycles.
    let mut at = h["at"].clone();
    for _ in 0..3 {
        let next = wait_health(&sup, "a later cycle", |n| n["at"] != at);
        at = next["at"].clone();
    }
    let more = cleared(&sup);
    assert_eq!(more.len(), 2, "{more:?}");
    sup.stop();
}

#[test]
fn a_repeatedly_failing_owner_is_advised_to_clear_its_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir_all(dir.join("cache")).unwrap();
    std::fs::write(dir.join("cache/corrupt"), b"?").unwrap();
    let service = format!(
        "disk_free_min_pct = 0\n\n[[services]]\nname = \"bot\"\ncommand = \"/bin/sh\"\nargs = [\"-c\", \"exit 3\"]\ncwd = \"{}\"\nmax_restarts = 0\nrestart_delay_ms = 0\n",
        dir.display()
    );
    let sup = Sup::start(dir, &config(dir, &service, ""));
    let id = "service:bot/state/clear_cache/cache:bot:cache";
    let h = wait_health(&sup, "clear_cache for the failed owner", |h| {
        recommendation(h, id).is_some()
    });
    let rec = recommendation(&h, id).unwrap();
    assert_eq!(rec["state"], "PENDING", "{rec:#}");
    assert!(
        rec["expected"]
            .as_str()
            .unwrap()
            .contains("failing again and again")
    );
    // The disk is fine here: no disk advice.
    assert!(recommendation(&h, DISK_CLEAR).is_none());
    let out = sup.cli(&["approve", id]);
    common::process::assert_ok(&out);
    assert!(entries(&dir.join("cache")).is_empty());
    sup.stop();
}

#[test]
fn an_owner_restarting_again_and_again_inside_its_window_is_advised_to_clear_its_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir_all(dir.join("cache")).unwrap();
    // It crashes at once, within its budget: BACKOFF, restarts 0.3 s, 0.6 s, 1.2 s … apart.
    let service = format!(
        "disk_free_min_pct = 0\n\n[[services]]\nname = \"bot\"\ncommand = \"/bin/sh\"\nargs = [\"-c\", \"exit 3\"]\ncwd = \"{}\"\nmax_restarts = 6\nrestart_delay_ms = 300\n",
        dir.display()
    );
    let sup = Sup::start(dir, &config(dir, &service, ""));
    let id = "service:bot/state/clear_cache/cache:bot:cache";
    let h = wait_health(&sup, "clear_cache for the crash-looping owner", |h| {
        recommendation(h, id).is_some()
    });
    // Advised only from the third failure in the window on (CLEAR_CACHE_AFTER_FAILURES): the
    // last backoff journaled before the recommendation counted at least three.
    let records = common::wait::until(
        Duration::from_secs(30),
        || {
            let r = ops(&sup);
            let pending = r
                .iter()
                .position(|x| kind(x) == "recommendation.pending" && body(x)["id"] == id);
            pending.map(|p| r[..p].to_vec()).ok_or(())
        },
        |()| "no recommendation.pending record".into(),
    );
    let failures = records
        .iter()
        .rev()
        .find(|x| kind(x) == "service.backoff")
        .map(|x| body(x)["failures_in_window"].as_u64().unwrap_or(0));
    assert!(
        failures.is_some_and(|f| f >= 3),
        "advised after {failures:?} failure(s) in the window: {h:#}"
    );
    assert_eq!(recommendation(&h, id).unwrap()["state"], "PENDING");
    sup.stop();
}

#[test]
fn a_link_in_a_parent_component_of_the_cache_path_is_refused_by_check_and_by_the_clear() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // bot/plink -> the test directory: "plink/data" of bot is the data directory.
    std::fs::create_dir_all(dir.join("bot")).unwrap();
    std::os::unix::fs::symlink(dir, dir.join("bot/plink")).unwrap();
    let text = format!(
        "[engine]\nenabled = false\n[health]\ncycle_ms = 100\ncritical_interval_secs = 1\ninterval_secs = 1\ncpu_degraded_pct = 100\nmemory_degraded_pct = 100\n{LOW_DISK}\n[[services]]\nname = \"bot\"\ncommand = \"/bin/sleep\"\nargs = [\"1000\"]\ncwd = \"{}\"\n[[artifacts]]\nservice = \"bot\"\nkind = \"cache\"\npath = \"plink/data\"\n",
        dir.join("bot").display()
    );
    let cfg = dir.join("ballast.toml");
    std::fs::write(&cfg, &text).unwrap();
    let out = common::ballast()
        .arg("check")
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains(&format!("{}:", cfg.display()))
            && err.contains("plink in its path is a symbolic link"),
        "{err}"
    );
    let sup = Sup::start(dir, &text);
    let id = "resources/disk_free/clear_cache/cache:bot:plink/data";
    wait_health(&sup, "clear_cache advised", |h| {
        recommendation(h, id).is_some()
    });
    let out = sup.cli(&["approve", id]);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("plink in its path is a symbolic link"),
        "{said}"
    );
    // The data directory is whole: its journal and state are there, and the supervisor
    // answers.
    assert!(dir.join("data/journal").is_dir());
    assert!(dir.join("data/state").is_dir());
    let records = common::wait::until(
        Duration::from_secs(30),
        || {
            let r: Vec<Value> = ops(&sup)
                .into_iter()
                .filter(|r| kind(r) == "cache.clear_refused")
                .collect();
            if r.is_empty() { Err(()) } else { Ok(r) }
        },
        |()| "no cache.clear_refused record".into(),
    );
    assert!(cleared(&sup).is_empty(), "nothing cleared");
    assert!(
        body(&records[0])["refused"]
            .as_str()
            .is_some_and(|r| r.contains("symbolic link")),
        "{records:?}"
    );
    assert!(sup.status().is_some());
    sup.stop();
}

#[test]
fn an_approved_clear_over_its_bound_goes_on_in_chunks_until_the_cache_is_empty() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let cache = dir.join("cache");
    std::fs::create_dir_all(&cache).unwrap();
    for i in 0..50 {
        std::fs::write(cache.join(format!("f{i}")), b"xx").unwrap();
    }
    // One of them has another name outside: its data stays, its bytes are not counted.
    std::fs::hard_link(cache.join("f0"), dir.join("keep-f0")).unwrap();
    let sup = Sup::start(
        dir,
        &config(dir, &running_bot(dir), "max_clear_entries = 10\n"),
    );
    wait_health(&sup, "clear_cache advised", |h| {
        recommendation(h, DISK_CLEAR).is_some()
    });
    let out = sup.cli(&["approve", DISK_CLEAR]);
    common::process::assert_ok(&out);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        said.contains("10 files (")
            && said.contains("40 entries left: the clear goes on in chunks of at most 10 entries"),
        "{said}"
    );
    let records = common::wait::until(
        Duration::from_secs(30),
        || {
            let c = cleared(&sup);
            if c.len() < 5 { Err(()) } else { Ok(c) }
        },
        |()| "fewer than five cache.cleared records".into(),
    );
    assert!(entries(&cache).is_empty(), "all 50 removed");
    let sum = |k: &str| {
        records
            .iter()
            .map(|r| body(r)[k].as_u64().unwrap())
            .sum::<u64>()
    };
    assert_eq!((sum("files"), sum("shared"), sum("bytes")), (50, 1, 98));
    let lefts: Vec<_> = records.iter().map(|r| body(r)["left"].as_u64()).collect();
    assert_eq!(lefts, [Some(40), Some(30), Some(20), Some(10), Some(0)]);
    assert_eq!(std::fs::read(dir.join("keep-f0")).unwrap(), b"xx");
    // A second approval is not needed, and not possible: it is decided.
    let again = sup.cli(&["approve", DISK_CLEAR]);
    assert!(!again.status.success());
    let log = std::fs::read_to_string(dir.join("supervisor.err")).unwrap();
    assert!(
        log.contains("the clear ended after 5 chunks: 50 entries removed, 98 bytes freed in all"),
        "{log}"
    );
    sup.stop();
}

#[test]
fn the_running_supervisors_configuration_file_inside_a_cache_is_never_cleared() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let cache = dir.join("cache");
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::write(cache.join("junk"), b"x").unwrap();
    // The supervisor runs with cache/ballast.toml (written after the check: `ballast check`
    // of it refuses it too).
    let cfg = cache.join("ballast.toml");
    let text = config(dir, &running_bot(dir), "");
    std::fs::write(&cfg, &text).unwrap();
    let out = common::ballast()
        .arg("check")
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("the configuration file in use"), "{err}");
    let sup = Sup::run_files(dir, &dir.join("data"), &cfg, &[]);
    wait_health(&sup, "clear_cache advised", |h| {
        recommendation(h, DISK_CLEAR).is_some()
    });
    let out = sup.cli(&["approve", DISK_CLEAR]);
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains(&format!(
            "it holds the configuration file in use {}: a clear would delete it",
            cfg.display()
        )),
        "{said}"
    );
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), text);
    assert!(cache.join("junk").exists(), "nothing was cleared");
    sup.stop();
}

#[test]
fn a_data_directory_reached_through_a_link_inside_a_cache_is_never_cleared() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    // The data directory is d/data -> bot/cache/data: inside bot's cache, seen resolved only.
    let bot = root.join("bot");
    std::fs::create_dir_all(bot.join("cache/data")).unwrap();
    std::fs::write(bot.join("cache/junk"), b"x").unwrap();
    let d = root.join("d");
    std::fs::create_dir_all(&d).unwrap();
    std::os::unix::fs::symlink(bot.join("cache/data"), d.join("data")).unwrap();
    let cfg = d.join("ballast.toml");
    std::fs::write(&cfg, config(root, &running_bot(&bot), "")).unwrap();
    let sup = Sup::run_files(&d, &d.join("data"), &cfg, &[]);
    wait_health(&sup, "clear_cache advised", |h| {
        recommendation(h, DISK_CLEAR).is_some()
    });
    let out = sup.cli(&["approve", DISK_CLEAR]);
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains(&format!(
            "it is Ballast's data directory {} or a directory above it",
            bot.join("cache/data").display()
        )),
        "{said}"
    );
    assert!(bot.join("cache/junk").exists(), "nothing was cleared");
    assert!(
        bot.join("cache/data/journal").is_dir(),
        "the data directory is whole"
    );
    assert!(sup.status().is_some());
    sup.stop();
}

/// Rewrite the configuration as an editor does (a new file renamed over the old one) and
/// `ballast reload` it.
fn reload(sup: &Sup, dir: &Path, text: &str) {
    let tmp = dir.join(".ballast.toml.new");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, dir.join("ballast.toml")).unwrap();
    common::process::assert_ok(&sup.cli(&["reload"]));
}

#[test]
fn a_decided_clear_is_asked_again_when_the_low_disk_clears_and_comes_back_by_reload() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fill(dir);
    let low = config(dir, &running_bot(dir), "");
    let fine = low.replace("disk_free_min_pct = 100", "disk_free_min_pct = 1");
    let sup = Sup::start(dir, &low);
    wait_health(&sup, "clear_cache advised", |h| {
        recommendation(h, DISK_CLEAR).is_some_and(|r| r["state"] == "PENDING")
    });
    common::process::assert_ok(&sup.cli(&["approve", DISK_CLEAR]));
    assert!(entries(&dir.join("cache")).is_empty());
    // The disk is fine again: the issue clears and its recommendation with it.
    reload(&sup, dir, &fine);
    wait_health(&sup, "the low disk cleared", |h| {
        h["issues"]
            .as_array()
            .is_some_and(|i| !i.iter().any(|i| i["id"] == "resources/disk_free"))
    });
    // Low again: a new recommendation, waiting for a new approval; nothing removed before it.
    std::fs::write(dir.join("cache/new.bin"), b"1234").unwrap();
    reload(&sup, dir, &low);
    wait_health(&sup, "clear_cache advised again", |h| {
        recommendation(h, DISK_CLEAR).is_some_and(|r| r["state"] == "PENDING")
    });
    assert_eq!(entries(&dir.join("cache")), ["new.bin"]);
    let out = sup.cli(&["approve", DISK_CLEAR]);
    common::process::assert_ok(&out);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(said.contains("1 file (4 bytes freed)"), "{said}");
    assert!(entries(&dir.join("cache")).is_empty());
    sup.stop();
}

#[test]
fn an_approval_after_a_reload_that_moved_the_cache_is_refused_and_removes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (a, b) = (dir.join("a"), dir.join("b"));
    fill(&a);
    fill(&b);
    let sup = Sup::start(dir, &config(dir, &running_bot(&a), ""));
    let h = wait_health(&sup, "clear_cache advised", |h| {
        recommendation(h, DISK_CLEAR).is_some_and(|r| r["state"] == "PENDING")
    });
    // The recommendation names the directory it was raised for, shown by `ballast health`.
    let raised_for = a.join("cache").display().to_string();
    let rec = recommendation(&h, DISK_CLEAR).unwrap();
    assert!(
        rec["expected"].as_str().unwrap().contains(&raised_for),
        "{rec:#}"
    );
    let text = String::from_utf8_lossy(&sup.cli(&["health"]).stdout).into_owned();
    assert!(text.contains(&raised_for), "{text}");
    // The owner's cwd moves to b by a reload; the approval comes after it.
    reload(&sup, dir, &config(dir, &running_bot(&b), ""));
    let out = sup.cli(&["approve", DISK_CLEAR]);
    assert!(!out.status.success(), "refused");
    let said =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains(&format!(
            "it was recommended for the directory {raised_for}"
        )) && said.contains("nothing removed"),
        "{said}"
    );
    assert_eq!(entries(&a.join("cache")), ["a.bin", "link", "sub"]);
    assert_eq!(entries(&b.join("cache")), ["a.bin", "link", "sub"]);
    sup.stop();
}

#[test]
fn an_auto_clear_runs_once_in_one_crash_loop_of_its_owner() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir_all(dir.join("cache")).unwrap();
    std::fs::write(dir.join("cache/stale.bin"), b"x").unwrap();
    // It crashes at once again and again inside its window, until its budget is spent.
    let service = format!(
        "disk_free_min_pct = 0\n\n[[services]]\nname = \"bot\"\ncommand = \"/bin/sh\"\nargs = [\"-c\", \"sleep 0.4; exit 3\"]\ncwd = \"{}\"\nmax_restarts = 8\nrestart_delay_ms = 100\n",
        dir.display()
    );
    let sup = Sup::start(dir, &config(dir, &service, "auto_clear = true\n"));
    common::wait::until(
        Duration::from_secs(60),
        || {
            let r = ops(&sup);
            let f = r
                .iter()
                .filter(|x| kind(x) == "service.backoff")
                .filter_map(|x| body(x)["failures_in_window"].as_u64())
                .max()
                .unwrap_or(0);
            if f >= 7 { Ok(()) } else { Err(f) }
        },
        |f| format!("the owner failed only {f} times"),
    );
    let records = cleared(&sup);
    assert_eq!(records.len(), 1, "once in one crash loop: {records:#?}");
    sup.stop();
}
