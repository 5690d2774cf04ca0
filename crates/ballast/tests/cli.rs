//! The `ballast` binary, run as a real process.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use ballast_store::journal::{JournalOptions, OpenPolicy};
use ballast_store::{Journal, Layout, RealStorage, SystemClock};
use common::process::{ballast_in as ballast, text};

#[test]
fn version_and_completions() {
    let tmp = tempfile::tempdir().unwrap();
    let out = ballast(&["--version"], tmp.path());
    assert!(out.status.success());
    assert_eq!(
        text(&out.stdout).trim(),
        format!("ballast {}", env!("CARGO_PKG_VERSION"))
    );
    for shell in ["bash", "zsh", "fish"] {
        let out = ballast(&["completions", shell], tmp.path());
        assert!(out.status.success(), "{shell}");
        assert!(text(&out.stdout).contains("journal"), "{shell}");
    }
}

#[test]
fn check_reports_a_misspelled_key_with_location_and_exits_78() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("bad.toml"),
        "[guard]\nmax_notional_per_ordr_usd = 100\n\n[strategy]\nfast = 50\nslow = 20\n",
    )
    .unwrap();
    let out = ballast(&["check", "--config", "bad.toml"], tmp.path());
    assert_eq!(out.status.code(), Some(78));
    let err = text(&out.stderr);
    assert!(
        err.contains("bad.toml:2:1: error: unknown key \"max_notional_per_ordr_usd\" in [guard]"),
        "{err}"
    );
    assert!(
        err.contains("did you mean \"max_notional_per_order_usd\"?"),
        "{err}"
    );
    assert!(
        err.contains("bad.toml:5:1: error: [strategy] fast = 50 must be less than slow = 20"),
        "{err}"
    );
    assert!(err.contains("2 configuration errors found"), "{err}");
}

#[test]
fn init_writes_a_config_that_checks_and_refuses_to_overwrite() {
    let tmp = tempfile::tempdir().unwrap();
    let out = ballast(&["init"], tmp.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let sample = std::fs::read_to_string(tmp.path().join("ballast.toml")).unwrap();
    assert!(
        sample.contains("# Largest notional of a single order"),
        "documented"
    );
    let out = ballast(&["check", "--config", "ballast.toml"], tmp.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = ballast(&["init"], tmp.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("--force"));
    assert!(ballast(&["init", "--force"], tmp.path()).status.success());
}

#[test]
fn check_handles_missing_files_and_bad_env_overrides() {
    let tmp = tempfile::tempdir().unwrap();
    let out = ballast(&["check", "--config", "nope.toml"], tmp.path());
    assert_eq!(out.status.code(), Some(78));
    assert!(
        text(&out.stderr).contains("ballast init"),
        "{}",
        text(&out.stderr)
    );
    let out = Command::new(env!("CARGO_BIN_EXE_ballast"))
        .arg("check")
        .current_dir(tmp.path())
        .env("MAX_NOTIONAL_PER_ORDER", "1e9")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    assert!(
        text(&out.stderr).contains("environment variable MAX_NOTIONAL_PER_ORDER"),
        "{}",
        text(&out.stderr)
    );
}

fn journal_with(dir: &Path, n: u64) -> PathBuf {
    let layout = Layout::new(dir);
    let (j, _) = Journal::open(
        Arc::new(RealStorage),
        &layout,
        &layout.engine_journal(),
        Arc::new(SystemClock),
        JournalOptions::default(),
        OpenPolicy::RefuseDangerous,
        &mut |_| Ok(()),
    )
    .unwrap();
    // Records the engine reads (verify checks every body against its type).
    for i in 0..n {
        if i % 2 == 0 {
            j.append(
                "journal.stamp",
                &serde_json::json!({ "mode": "paper", "account": "paper" }),
            )
        } else {
            j.append(
                "engine.policy",
                &serde_json::json!({ "policy": "ALLOW_ALL", "reason": format!("test {i}"), "at": "2026-01-01T00:00:00.000Z" }),
            )
        }
        .unwrap();
    }
    layout.engine_journal().join("00000000000000000001.jsonl")
}

#[test]
fn journal_verify_and_dump_report_clean_healable_and_dangerous() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let segment = journal_with(&data, 10);
    let d = data.to_str().unwrap();

    let out = ballast(&["journal", "verify", "--data-dir", d], tmp.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("10 valid record(s), last seq 10"));

    let out = ballast(
        &[
            "journal",
            "dump",
            "--data-dir",
            d,
            "--json",
            "--type",
            "engine.policy",
            "--from",
            "3",
        ],
        tmp.path(),
    );
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines
            .iter()
            .map(|v| v["seq"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        vec![4, 6, 8, 10]
    );
    let out = ballast(
        &["journal", "dump", "--data-dir", d, "--limit", "2"],
        tmp.path(),
    );
    assert_eq!(text(&out.stdout).lines().count(), 2);

    // A torn tail: healable (exit 1), and verify changes nothing.
    let mut bytes = std::fs::read(&segment).unwrap();
    bytes.extend_from_slice(b"{\"v\":1,\"seq\":11,\"ts\":\"20");
    std::fs::write(&segment, &bytes).unwrap();
    let out = ballast(
        &["journal", "verify", "--data-dir", d, "--json"],
        tmp.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert_eq!(v["status"], "healable");
    assert_eq!(v["journal"]["verdict"]["verdict"], "torn_tail");
    assert_eq!(
        std::fs::read(&segment).unwrap(),
        bytes,
        "verify must not change anything"
    );

    // Corruption with valid records after it: dangerous (exit 2).
    let mut bad = bytes.clone();
    let third_line = bad
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .nth(1)
        .unwrap()
        .0
        + 5;
    bad[third_line] ^= 0x20;
    std::fs::write(&segment, &bad).unwrap();
    let out = ballast(&["journal", "verify", "--data-dir", d], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("DANGEROUS") && stdout.contains("line 3"),
        "{stdout}"
    );
    let out = ballast(&["journal", "dump", "--data-dir", d], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stdout).lines().count(),
        2,
        "only the valid prefix"
    );
    assert!(text(&out.stderr).contains("only the valid prefix"));
}

#[test]
fn journal_verify_explains_a_missing_data_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let out = ballast(&["journal", "verify", "--data-dir", "nowhere"], tmp.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("does not exist; pass --data-dir"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn run_supervises_the_engine_stops_cleanly_on_sigterm_and_refuses_bad_config() {
    use std::io::{BufRead, BufReader};
    let tmp = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ballast"))
        .arg("run")
        .current_dir(tmp.path())
        .env_remove("BALLAST_HOME")
        .env_remove("BALLAST_CONFIG")
        .env("BALLAST_FEED__BARS_PER_SECOND", "0")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    // The supervisor says when the engine is running; then wait for its tenth bar.
    for line in lines.by_ref() {
        if line.unwrap().contains("engine: RUNNING") {
            break;
        }
    }
    let heartbeat = tmp.path().join("ballast-data/run/engine.heartbeat");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let bars = std::fs::read_to_string(&heartbeat)
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v["bars"].as_u64())
            .unwrap_or(0);
        if bars >= 10 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the engine does not trade"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    for _ in lines {} // drain until the process closes stderr
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "SIGTERM stops the supervisor and the engine cleanly"
    );
    let engine_log =
        std::fs::read_to_string(tmp.path().join("ballast-data/logs/engine.log")).unwrap();
    assert!(engine_log.contains("engine stopped after"), "{engine_log}");
    for d in [
        "journal/engine",
        "journal/ops",
        "state",
        "quarantine",
        "logs",
        "run",
        "inbox",
    ] {
        assert!(tmp.path().join("ballast-data").join(d).is_dir(), "{d}");
    }
    assert!(
        tmp.path()
            .join("ballast-data/run/engine.heartbeat")
            .is_file()
    );
    std::fs::write(tmp.path().join("b.toml"), "[api]\nport = 70000\n").unwrap();
    let out = ballast(&["run", "--config", "b.toml"], tmp.path());
    assert_eq!(out.status.code(), Some(78));
    assert!(
        text(&out.stderr).contains("b.toml:2:8"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn the_configuration_reference_is_generated_from_the_schema() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/CONFIG.md");
    let generated = ballast_core::config::reference_markdown();
    if std::env::var_os("BALLAST_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == generated,
        "docs/CONFIG.md is out of date: run `BALLAST_BLESS=1 cargo test -p ballast --test cli` and commit it"
    );
}

/// Every row of the failure playbook names tests that exist (each `file::test` or
/// `module::tests::test` in its last column is a `fn` somewhere in the workspace).
#[test]
fn every_playbook_row_names_a_test_that_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let playbook = std::fs::read_to_string(root.join("docs/PLAYBOOK.md")).unwrap();
    let mut sources = String::new();
    let mut stack = vec![root.join("crates")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                sources.push_str(&std::fs::read_to_string(&p).unwrap());
            }
        }
    }
    let mut rows = 0;
    let classes = playbook
        .split_once("## TRANSIENT")
        .map_or("", |(_, rest)| rest);
    for line in classes
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| component"))
    {
        let Some(last) = line.trim_end_matches('|').rsplit('|').next() else {
            continue;
        };
        let names: Vec<&str> = last.split('`').skip(1).step_by(2).collect();
        rows += 1;
        assert!(!names.is_empty(), "a playbook row without a test: {line}");
        for n in names {
            let f = n.rsplit("::").next().unwrap();
            assert!(
                sources.contains(&format!("fn {f}(")),
                "docs/PLAYBOOK.md names {n}, which is not a test: {line}"
            );
        }
    }
    assert!(rows >= 30, "{rows} rows");
}

/// issue 12 item 6: every recovery action has its row in docs/PLAYBOOK.md's "Recovery
/// actions" table (and that row names tests: [`every_playbook_row_names_a_test_that_exists`]).
/// The variants are read from `RecoveryAction`'s source, so a new one fails here until it has
/// its row and is in `RecoveryAction::ALL` (which `ballast health`'s display is tested over).
#[test]
fn every_recovery_action_has_a_playbook_row() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let source =
        std::fs::read_to_string(root.join("crates/ballast-core/src/health/mod.rs")).unwrap();
    let body = source
        .split_once("pub enum RecoveryAction {")
        .and_then(|(_, rest)| rest.split_once('}'))
        .map(|(body, _)| body)
        .expect("RecoveryAction's source");
    let variants: Vec<String> = body
        .lines()
        .map(|l| l.trim().trim_end_matches(','))
        .filter(|l| !l.is_empty() && !l.starts_with("//") && !l.starts_with("#["))
        .map(|camel| {
            let mut snake = String::new();
            for (i, c) in camel.chars().enumerate() {
                if c.is_uppercase() && i > 0 {
                    snake.push('_');
                }
                snake.push(c.to_ascii_lowercase());
            }
            snake
        })
        .collect();
    assert!(variants.len() >= 7, "{variants:?}");
    let all: Vec<&str> = ballast_core::health::RecoveryAction::ALL
        .iter()
        .map(|a| a.as_str())
        .collect();
    assert_eq!(
        variants, all,
        "RecoveryAction::ALL lists every variant, in order"
    );
    let playbook = std::fs::read_to_string(root.join("docs/PLAYBOOK.md")).unwrap();
    let table = playbook
        .split_once("## Recovery actions")
        .map(|(_, rest)| rest.split("\n## ").next().unwrap_or(rest))
        .expect("docs/PLAYBOOK.md has a Recovery actions section");
    for v in &variants {
        let row = table.lines().find(|l| {
            l.starts_with("| ")
                && l.split('|')
                    .nth(2)
                    .is_some_and(|c| c.trim() == format!("`{v}`"))
        });
        assert!(
            row.is_some(),
            "docs/PLAYBOOK.md has no row for the recovery action `{v}` (its second column is `{v}`)"
        );
    }
}

#[test]
fn run_with_the_engine_disabled_and_no_services_says_there_is_nothing_to_run() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("s.toml"),
        "[engine]\nenabled = false\n\n[[services]]\nname = \"bot\"\ncommand = \"/bin/true\"\n",
    )
    .unwrap();
    let out = ballast(&["check", "--config", "s.toml"], tmp.path());
    assert!(
        text(&out.stdout).contains("engine disabled, 1 service(s)"),
        "{}",
        text(&out.stdout)
    );
    std::fs::write(tmp.path().join("none.toml"), "[engine]\nenabled = false\n").unwrap();
    let out = ballast(&["run", "--config", "none.toml"], tmp.path());
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("no [[services]], [[checks]] or [[artifacts]] declared: nothing to run"),
        "{err}"
    );
}

/// `ballast args…` in `cwd`, killed and failed if it has not ended within `secs`.
fn ballast_within(args: &[&str], cwd: &Path, secs: u64) -> Output {
    common::process::run_within(
        common::ballast().args(args).current_dir(cwd),
        std::time::Duration::from_secs(secs),
    )
    .unwrap_or_else(|_| panic!("`ballast {}` did not end within {secs} s", args.join(" ")))
}

#[test]
fn item_12_check_refuses_a_device_a_fifo_a_directory_and_a_config_over_1_mib() {
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("fifo.toml");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let big = tmp.path().join("big.toml");
    let mut text_2mib = "# padding\n".repeat(2 * 1024 * 1024 / 10);
    text_2mib.push_str("[engine]\nenabled = true\n");
    std::fs::write(&big, &text_2mib).unwrap();
    let size = text_2mib.len().to_string();
    for (path, words) in [
        (
            "/dev/zero",
            vec!["/dev/zero", "a character device", "not a regular file"],
        ),
        (
            fifo.to_str().unwrap(),
            vec!["fifo.toml", "a FIFO", "not a regular file"],
        ),
        (
            tmp.path().to_str().unwrap(),
            vec!["a directory", "not a regular file"],
        ),
        (
            big.to_str().unwrap(),
            vec!["big.toml", size.as_str(), "1048576 bytes"],
        ),
    ] {
        let out = ballast_within(&["check", "--config", path], tmp.path(), 10);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(78), "{path}: {err}");
        for w in words {
            assert!(err.contains(w), "{path}: {w:?} in {err}");
        }
    }
    // The same bound for `run` and the engine, which load it the same way.
    let out = ballast_within(
        &["engine", "--standalone", "--config", "/dev/zero"],
        tmp.path(),
        10,
    );
    assert_eq!(out.status.code(), Some(78), "{}", text(&out.stderr));
    // A link to a regular file is a regular file.
    std::fs::write(tmp.path().join("real.toml"), "[engine]\nenabled = true\n").unwrap();
    std::os::unix::fs::symlink("real.toml", tmp.path().join("link.toml")).unwrap();
    let out = ballast_within(&["check", "--config", "link.toml"], tmp.path(), 10);
    assert!(out.status.success(), "{}", text(&out.stderr));
}
