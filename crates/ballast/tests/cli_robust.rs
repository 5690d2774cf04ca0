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
