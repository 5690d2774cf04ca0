//! The invariants the compiler and clippy enforce stay switched on (docs/ARCHITECTURE.md,
//! "Invariants"): every crate and bench root forbids `unsafe`, and the pure core's
//! `clippy.toml` still refuses the I/O, clock, process, environment and thread calls.

use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `crates/*/src/lib.rs`, `crates/*/src/main.rs` and `crates/*/benches/*.rs`.
fn crate_roots() -> Vec<PathBuf> {
    let mut roots = Vec::new();
    for krate in std::fs::read_dir(workspace().join("crates"))
        .unwrap()
        .flatten()
    {
        let dir = krate.path();
        for root in ["src/lib.rs", "src/main.rs"] {
            if dir.join(root).is_file() {
                roots.push(dir.join(root));
            }
        }
        if let Ok(benches) = std::fs::read_dir(dir.join("benches")) {
            for b in benches.flatten() {
                if b.path().extension().is_some_and(|x| x == "rs") {
                    roots.push(b.path());
                }
            }
        }
    }
    roots
}

#[test]
fn every_crate_and_bench_root_forbids_unsafe_code() {
    let roots = crate_roots();
    assert!(roots.len() >= 5, "the crate roots were found: {roots:?}");
    let missing: Vec<String> = roots
        .iter()
        .filter(|r| {
            !std::fs::read_to_string(r)
                .unwrap()
                .lines()
                .any(|l| l.trim() == "#![forbid(unsafe_code)]")
        })
        .map(|r| r.display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "add #![forbid(unsafe_code)] to: {}",
        missing.join(", ")
    );
}

#[test]
fn the_core_clippy_toml_refuses_io_the_clock_processes_the_environment_and_threads() {
    let toml =
        std::fs::read_to_string(workspace().join("crates/ballast-core/clippy.toml")).unwrap();
    for path in [
        "\"std::fs::read\"",
        "\"std::fs::write\"",
        "\"std::fs::File\"",
        "\"std::time::SystemTime::now\"",
        "\"std::time::Instant::now\"",
        "\"std::process::Command::new\"",
        "\"std::process::exit\"",
        "\"std::env::var\"",
        "\"std::env::args\"",
        "\"std::thread::spawn\"",
    ] {
        assert!(
            toml.contains(&format!("path = {path}")),
            "crates/ballast-core/clippy.toml no longer lists {path}"
        );
    }
}
