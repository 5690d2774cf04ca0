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

#[test]
fn the_core_does_no_io_and_reads_no_wall_clock() {
    let core = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ballast-core");
    let forbidden = [
        "std::fs",
        // Addresses are data; sockets are I/O.
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
        "tokio",
        "println!",
        "eprintln!",
    ];
    let mut files = Vec::new();
    rust_files(&core.join("src"), &mut files);
    assert!(files.len() > 20, "the core's sources were found");
    let mut found = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for (n, line) in text.lines().enumerate() {
            // Prose may name what the core does not do.
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

/// The supervisor's core (`crates/ballast-supervisor/src/core/`) decides without I/O: no file
/// system, sockets, processes, environment, threads, standard streams or clock reads — time
/// is an input. (Clippy's `disallowed-methods` refuses the same methods there.)
#[test]
fn the_supervisor_core_does_no_io_and_reads_no_clock() {
    let core = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ballast-supervisor/src/core");
    let forbidden = [
        "std::fs",
        "TcpStream",
        "TcpListener",
        "UdpSocket",
        "UnixStream",
        "UnixListener",
        "UnixDatagram",
        "std::process",
        "std::env",
        "std::thread",
        "std::io::stdin",
        "std::io::stdout",
        "std::io::stderr",
        "SystemTime",
        "Instant::now",
        "Clock",
        "rustix::process::kill",
        "rustix::fs",
        "println!",
        "eprintln!",
    ];
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
    assert!(
        found.is_empty(),
        "I/O or a clock in the supervisor core:\n{}",
        found.join("\n")
    );
}
