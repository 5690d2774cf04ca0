//! # ballast-fuzz — one target per parser of outside input
//!
//! Each target is `fn(&[u8])` and calls the real parser (the function the runtime calls, not a
//! copy): it must never panic, must refuse an input over the reader's bound (never read it
//! whole), and where the format has a writer, what it reads must come back unchanged through
//! the writer (`parse(write(x)) == x`). A target panics only when one of these properties
//! breaks — that is the finding.
//!
//! Driven two ways over the same functions: coverage-guided by `cargo fuzz` (`fuzz/`, nightly,
//! local only) and on stable by `tests/smoke.rs` (the committed corpus in `fuzz/corpus/<target>/`
//! plus bounded random and mutated inputs), which CI runs. `docs/FUZZING.md` says how.

#![forbid(unsafe_code)]

pub mod broker;
pub mod control;
pub mod files;
pub mod journal;
pub mod text;

/// A fuzz target: its name (also its `fuzz/fuzz_targets/<name>.rs` and corpus directory) and
/// its function.
pub struct Target {
    pub name: &'static str,
    pub run: fn(&[u8]),
}

/// Every target, in the order the smoke test runs them.
pub const TARGETS: &[Target] = &[
    Target {
        name: "config",
        run: text::config,
    },
    Target {
        name: "secrets",
        run: text::secrets,
    },
    Target {
        name: "inbox",
        run: text::inbox,
    },
    Target {
        name: "api_bodies",
        run: text::api_bodies,
    },
    Target {
        name: "broker",
        run: broker::responses,
    },
    Target {
        name: "broker_headers",
        run: broker::headers,
    },
    Target {
        name: "journal_line",
        run: journal::line,
    },
    Target {
        name: "journal_segment",
        run: journal::segment,
    },
    Target {
        name: "snapshot",
        run: journal::snapshot,
    },
    Target {
        name: "control",
        run: control::protocol,
    },
    Target {
        name: "store_files",
        run: files::shared,
    },
];

/// The target called `name`.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

/// `data` split at its first byte: a selector (which of a target's formats) and the rest.
pub(crate) fn select(data: &[u8]) -> (u8, &[u8]) {
    match data.split_first() {
        Some((s, rest)) => (*s, rest),
        None => (0, data),
    }
}
