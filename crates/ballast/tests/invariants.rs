//! Architecture invariants checked by a tool, not only by review (docs/ARCHITECTURE.md,
//! "Invariants"): the core decides purely (SPEC principle 8) — no file system, network,
//! processes, environment, threads or wall clock in `ballast-core`.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// What a pure core's code never names: the file system, sockets (addresses are data), processes,
/// the environment, threads, the standard streams and the clock.
const IO_AND_CLOCK: &[&str] = &[
    "std::fs",
    "TcpStream",
    "TcpListener",
    "UdpSocket",
    "UnixStream",
    "UnixListener",
    "std::process",
    "std::env",
    "std::thread",
    "std::io::stdin",
    "std::io::stdout",
    "std::io::stderr",
    "SystemTime",
    "Instant::now",
    "println!",
    "eprintln!",
];

#[test]
fn the_core_does_no_io_and_reads_no_wall_clock() {
    let core = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ballast-core");
    let forbidden: Vec<&str> = IO_AND_CLOCK.iter().copied().chain(["tokio"]).collect();
    let mut files = Vec::new();
    rust_files(&core.join("src"), &mut files);
    assert!(files.len() > 20, "the core's sources were found");
    let mut found = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        forbidden_words(f, &text, &forbidden, &mut found);
    }
    assert!(
        found.is_empty(),
        "I/O or wall clock in ballast-core:\n{}",
        found.join("\n")
    );
    let manifest = std::fs::read_to_string(core.join("Cargo.toml")).unwrap();
    for dep in ["tokio", "reqwest", "axum", "sysinfo", "notify"] {
        assert!(
            !manifest.contains(dep),
            "ballast-core must not depend on {dep}"
        );
    }
}

/// Only `Layout` spells a path inside the data directory: a string literal starting with
/// `"run/`, `"state/` or `"journal/`, or a `join("run")`-style construction, anywhere in
/// `crates/*/src` but the layout tables (`ballast-store/src/layout.rs`, whose paths come from
/// `ballast-core/src/layout.rs`) is a second spelling. Unit tests (`tests.rs` files, and a
/// file's `#[cfg(test)]` module, which Ballast keeps at the end) and comments may name paths.
#[test]
fn only_the_layout_spells_a_path_inside_the_data_directory() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for e in std::fs::read_dir(&crates).unwrap().flatten() {
        if e.path().join("src").is_dir() {
            rust_files(&e.path().join("src"), &mut files);
        }
    }
    files.sort();
    assert!(files.len() > 50, "the crates' sources were found");
    let mut found = Vec::new();
    for f in &files {
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name == "layout.rs" || name == "tests.rs" {
            continue;
        }
        let text = std::fs::read_to_string(f).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (n, line) in lines.iter().enumerate() {
            // A test module written inline (not `mod tests;`, a file of its own) ends the
            // code looked at.
            if line.trim_start().starts_with("#[cfg(test)]")
                && !lines
                    .get(n + 1)
                    .is_some_and(|next| next.trim_end().ends_with(';'))
            {
                break;
            }
            if line.trim_start().starts_with("//") {
                continue;
            }
            if let Some(what) = data_dir_path(line) {
                found.push(format!(
                    "{}:{}: {what}: {}",
                    f.strip_prefix(&crates).unwrap_or(f).display(),
                    n + 1,
                    line.trim()
                ));
            }
        }
    }
    assert!(
        found.is_empty(),
        "paths inside the data directory spelled outside Layout (use a `Layout` method or `ballast_core::layout::rel`):\n{}",
        found.join("\n")
    );
}

/// The data-directory path `line` spells, if it spells one: a literal starting with one of
/// the layout's directories (not an escaped quote inside another literal), or a join of one.
fn data_dir_path(line: &str) -> Option<String> {
    for dir in ["run", "state", "journal"] {
        let literal = format!("\"{dir}/");
        let mut from = 0;
        while let Some(i) = line[from..].find(&literal) {
            let at = from + i;
            if !line[..at].ends_with('\\') {
                return Some(literal);
            }
            from = at + 1;
        }
    }
    // The data directory's own directories joined by name (a `quarantine/inbox` copy is not
    // the inbox: only the directories whose name is nowhere else).
    for dir in ["run", "state", "journal", "logs"] {
        let join = format!("join(\"{dir}\")");
        if line.contains(&join) {
            return Some(join);
        }
    }
    None
}

#[test]
fn the_path_grep_finds_what_it_looks_for() {
    assert!(data_dir_path(r#"let p = dir.join("run/engine.lock");"#).is_some());
    assert!(data_dir_path(r#"let p = dir.join("state");"#).is_some());
    assert!(data_dir_path(r#"format!("journal/{x}")"#).is_some());
    // A sample configuration's escaped path inside another literal, and other words.
    assert!(data_dir_path(r#""path = \"state/positions.json\"""#).is_none());
    assert!(data_dir_path(r#"let running = "running";"#).is_none());
}

/// The supervisor's core (`crates/ballast-supervisor/src/core/`) decides without I/O: no file
/// system, sockets, processes, environment, threads, standard streams or clock reads — time
/// is an input. (Clippy's `disallowed-methods` refuses the same methods there.)
#[test]
fn the_supervisor_core_does_no_io_and_reads_no_clock() {
    let core = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ballast-supervisor/src/core");
    let forbidden: Vec<&str> = IO_AND_CLOCK
        .iter()
        .copied()
        .chain([
            "UnixDatagram",
            "Clock",
            "rustix::process::kill",
            "rustix::fs",
        ])
        .collect();
    let mut files = Vec::new();
    rust_files(&core, &mut files);
    assert!(files.len() >= 5, "the supervisor core's sources were found");
    let mut found = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        assert!(
            f.file_name().is_none_or(|n| n != "mod.rs")
                || (text.contains("#![deny(")
                    && text.contains("clippy::disallowed_methods")
                    && text.contains("clippy::disallowed_types")),
            "{} denies the disallowed methods",
            f.display()
        );
        forbidden_words(f, &text, &forbidden, &mut found);
    }
    assert!(
        found.is_empty(),
        "I/O or a clock in the supervisor core:\n{}",
        found.join("\n")
    );
}

/// Each line of `text` (of file `f`) whose code — not its comment: prose may name what the
/// code does not do — holds one of `forbidden`, as `file:line: word: line`.
fn forbidden_words(f: &Path, text: &str, forbidden: &[&str], found: &mut Vec<String>) {
    for (n, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        for word in forbidden {
            if code.contains(word) {
                found.push(format!(
                    "{}:{}: {word}: {}",
                    f.display(),
                    n + 1,
                    line.trim()
                ));
            }
        }
    }
}

/// What removes a file or a directory.
const DELETES: &[&str] = &[
    "remove_file(",
    "remove_dir(",
    "remove_dir_all(",
    "unlinkat(",
    "unlink(",
    "rmdir(",
];

/// The only files that delete, each with how many deleting lines and what they delete —
/// Ballast's own files, and the one place that deletes a user's: a declared cache.
const MAY_DELETE: &[(&str, usize, &str)] = &[
    (
        "ballast-supervisor/src/cache.rs",
        1,
        "clear_cache: the contents of a declared cache, nothing else",
    ),
    (
        "ballast-engine/src/runtime/controls.rs",
        1,
        "the kill switch's release token, consumed",
    ),
    (
        "ballast-supervisor/src/health/governor.rs",
        3,
        "the kill switch's release token; KILL_SWITCH and its token (release_kill_switch)",
    ),
    (
        "ballast/src/cli/api.rs",
        2,
        "the run/api.addr this run (or this standalone engine) wrote",
    ),
    ("ballast-supervisor/src/readiness.rs", 1, "a notify socket"),
    (
        "ballast-supervisor/src/lib.rs",
        5,
        "the control socket and its private directory",
    ),
    (
        "ballast-store/src/storage.rs",
        3,
        "Storage::remove_file, for Ballast's files",
    ),
    ("ballast-store/src/snapshot.rs", 1, "snapshots past retain"),
    (
        "ballast-store/src/files/mod.rs",
        2,
        "write_atomic's and replace's own temp file, after a failed write",
    ),
    ("ballast-store/src/sim.rs", 1, "the simulated file system"),
    (
        "ballast/src/chaos/instance.rs",
        2,
        "ballast chaos's own throw-away instance directory, in a temp dir",
    ),
    (
        "ballast-store/src/chaos.rs",
        2,
        "the disk_full chaos wrapper's Storage::remove_file, passed through",
    ),
    (
        "ballast-store/src/files/reconcile_choice.rs",
        1,
        "state/reconcile-choice.json, once the engine journaled or refused its choice",
    ),
];

/// issue 12 item 5: Ballast deletes a user's files only by declaration (a `cache` artifact
/// cleared by `clear_cache`); every other deletion in the crates' code is of Ballast's own
/// files, in the files listed in [`MAY_DELETE`]. A new deletion anywhere fails this test until
/// it is looked at and listed (tests and `#[cfg(test)]` modules may delete what they made).
#[test]
fn only_a_declared_cache_is_ever_deleted_from_a_users_files() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for e in std::fs::read_dir(&crates).unwrap().flatten() {
        if e.path().join("src").is_dir() {
            rust_files(&e.path().join("src"), &mut files);
        }
    }
    files.sort();
    assert!(files.len() > 50, "the crates' sources were found");
    let mut counts: Vec<(String, usize, Vec<String>)> = Vec::new();
    for f in &files {
        if f.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(f).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let mut hits = Vec::new();
        for (n, line) in lines.iter().enumerate() {
            if line.trim_start().starts_with("#[cfg(test)]")
                && !lines
                    .get(n + 1)
                    .is_some_and(|next| next.trim_end().ends_with(';'))
            {
                break;
            }
            let code = line.split("//").next().unwrap_or("");
            if DELETES.iter().any(|d| code.contains(d)) {
                hits.push(format!("{}: {}", n + 1, line.trim()));
            }
        }
        if !hits.is_empty() {
            let rel = f.strip_prefix(&crates).unwrap_or(f).display().to_string();
            counts.push((rel, hits.len(), hits));
        }
    }
    let mut wrong = Vec::new();
    for (file, n, hits) in &counts {
        match MAY_DELETE.iter().find(|(f, ..)| f == file) {
            Some((_, allowed, _)) if allowed == n => {}
            Some((_, allowed, what)) => wrong.push(format!(
                "{file} deletes on {n} lines, {allowed} listed ({what}):\n  {}",
                hits.join("\n  ")
            )),
            None => wrong.push(format!(
                "{file} deletes and is not listed:\n  {}",
                hits.join("\n  ")
            )),
        }
    }
    assert!(
        wrong.is_empty(),
        "deletions outside the declared cache and Ballast's own files (docs/ARCHITECTURE.md, invariants):\n{}",
        wrong.join("\n")
    );
    // The list is not stale: each listed file still deletes (the cache's clear among them).
    for (f, ..) in MAY_DELETE {
        assert!(
            counts.iter().any(|(c, ..)| c == f),
            "{f} deletes nothing now"
        );
    }
}

/// Issue 14 item 4, "nothing is adopted automatically": outside tests, the engine journals an
/// operator's reconciliation choice (`reconcile.resolve`) in one place only — its pickup of
/// `state/reconcile-choice.json` (`runtime/choices.rs`) — in paper and live mode alike.
#[test]
fn only_the_operators_choice_file_resolves_a_reconciliation_finding() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for e in std::fs::read_dir(&crates).unwrap().flatten() {
        if e.path().join("src").is_dir() {
            rust_files(&e.path().join("src"), &mut files);
        }
    }
    let mut found = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        for (n, line) in code.lines().enumerate() {
            let line = line.split("//").next().unwrap_or("");
            if line.contains("EngineRecord::Resolve(") && !line.contains("=>") {
                found.push(format!("{}:{}", f.display(), n + 1));
            }
        }
    }
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("ballast-engine/src/runtime/choices.rs"),
        "{found:?}"
    );
}
