//! What a hostile tester found with the real binary: `ballast check` reports every error at
//! once (a range error does not hide a file error), and every output path ends quietly when
//! its reader goes away (a closed pipe is no panic).

mod common;

use common::process::{ballast_in as ballast, text};

/// A value out of range, a missing replay file for the backup feed and one for the primary:
/// all three reported by one `check`, each at its `file:line:col` (not the file errors only
/// after the range error is fixed).
#[test]
fn check_reports_range_errors_and_missing_files_together() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("ballast.toml"),
        "[feed]\nreplay_file = \"primary.csv\"\n\n[feed.backup]\nkind = \"replay\"\nstale_secs = 0\nreplay_file = \"backup.csv\"\n",
    )
    .unwrap();
    let out = ballast(&["check", "--config", "ballast.toml"], tmp.path());
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{err}");
    for needle in [
        "ballast.toml:2:1: error: [feed] replay_file:",
        "primary.csv does not exist",
        "ballast.toml:6:14: error: [feed.backup] stale_secs: 0 is out of range",
        "ballast.toml:7:1: error: [feed.backup] replay_file:",
        "backup.csv does not exist",
        "3 configuration errors found",
    ] {
        assert!(err.contains(needle), "{needle:?} not in:\n{err}");
    }
    // In file order.
    let at = |s: &str| err.find(s).unwrap();
    assert!(at("ballast.toml:2:1") < at("ballast.toml:6:14"));
    assert!(at("ballast.toml:6:14") < at("ballast.toml:7:1"));
}

/// `ballast check … 2>&1 | head -1`: thousands of errors into a pipe whose reader goes away
/// after the first line (more than a pipe holds, so a write meets the closed pipe). The
/// diagnostics that cannot be written are dropped — no panic (exit 101) — and the command
/// ends with its own status: 78, the configuration is invalid.
#[test]
fn check_into_a_pipe_closed_after_one_line_ends_with_its_own_status_not_a_panic() {
    use std::io::BufRead;
    let tmp = tempfile::tempdir().unwrap();
    let bad: String = (0..3000)
        .map(|i| format!("no_such_key_{i} = 1\n"))
        .collect();
    std::fs::write(tmp.path().join("ballast.toml"), format!("[guard]\n{bad}")).unwrap();
    let (reader, writer) = std::io::pipe().unwrap();
    let mut cmd = common::ballast();
    cmd.args(["check", "--config", "ballast.toml"])
        .current_dir(tmp.path())
        .stdin(std::process::Stdio::null())
        .stdout(writer.try_clone().unwrap())
        .stderr(writer);
    let mut child = cmd.spawn().unwrap();
    drop(cmd); // our copies of the write end: the child holds the only ones
    let mut first = String::new();
    std::io::BufReader::new(reader)
        .read_line(&mut first)
        .unwrap();
    assert!(first.contains("no_such_key_0"), "{first}");
    // The reader is gone (dropped with the BufReader): the rest meets a closed pipe.
    let status = common::wait::until(
        std::time::Duration::from_secs(30),
        || child.try_wait().unwrap().ok_or(()),
        |()| "ballast check never ended".to_owned(),
    );
    assert_eq!(status.code(), Some(78), "{status:?} (101 is a panic)");
}

/// Output into a pipe already closed (`ballast … | true`): every kind of output path — the
/// `out!` lines, a JSON printer, the completions, clap's help, an error on standard error —
/// ends quietly: no panic message, no exit 101; a closed standard output is a successful end
/// (exit 0: the reader took what it wanted, and `set -o pipefail` pipelines stay green).
#[test]
fn every_output_path_into_a_closed_pipe_ends_quietly() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("ok.toml"), "[guard]\nmax_open_orders = 3\n").unwrap();
    std::fs::write(
        tmp.path().join("bad.toml"),
        "[guard]\nmax_open_orders = 0\n",
    )
    .unwrap();
    for (args, code) in [
        (&["config", "show", "--config", "ok.toml"][..], 0),
        (&["config", "show", "--json", "--config", "ok.toml"], 0),
        (&["check", "--config", "ok.toml"], 0),
        (&["completions", "bash"], 0),
        (&["--help"], 0),
        (&["journal", "dump", "--data-dir", "nowhere"], 1),
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader); // closed before the first write
        let out = common::ballast()
            .args(args)
            .current_dir(tmp.path())
            .stdin(std::process::Stdio::null())
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let err = text(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_ne!(out.status.code(), Some(101), "{args:?}: {err}");
        assert!(
            out.status.code() == Some(code) || (code != 0 && out.status.code() != Some(0)),
            "{args:?}: {:?} {err}",
            out.status
        );
        // Standard error closed as well: the errors cannot be said, and are no panic.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let status = common::ballast()
            .args(args)
            .current_dir(tmp.path())
            .stdin(std::process::Stdio::null())
            .stdout(writer.try_clone().unwrap())
            .stderr(writer)
            .status()
            .unwrap();
        assert_ne!(status.code(), Some(101), "{args:?}: {status:?}");
    }
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let status = common::ballast()
        .args(["check", "--config", "bad.toml"])
        .current_dir(tmp.path())
        .stdin(std::process::Stdio::null())
        .stdout(writer.try_clone().unwrap())
        .stderr(writer)
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(78), "{status:?} (101 is a panic)");
}

/// The lint behind the two tests above: no `println!` / `print!` / `eprintln!` / `eprint!` /
/// `dbg!` in the workspace's sources outside the CLI's output module (each panics on a closed
/// pipe); lines go through `out!` / `err!`.
#[test]
fn no_print_macro_outside_the_output_module() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut found = Vec::new();
    let mut dirs = vec![root.join("crates")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                // Tests, benches and examples may print; the shipped sources may not.
                if !["tests", "benches", "examples", "target"].contains(&name.as_str()) {
                    dirs.push(path);
                }
                continue;
            }
            if !name.ends_with(".rs") || path.ends_with("cli/output.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            // A unit-test module at the end of a file may print.
            let shipped = text.split("#[cfg(test)]").next().unwrap_or("");
            for (n, line) in shipped.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                for mac in ["println!", "print!(", "eprintln!", "eprint!(", "dbg!("] {
                    let hit = code.match_indices(mac).any(|(i, _)| {
                        !code[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_')
                    });
                    if hit {
                        found.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                    }
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "use out! / err! instead:\n{}",
        found.join("\n")
    );
}
