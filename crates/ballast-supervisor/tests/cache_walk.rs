//! A clear over real files: a mount point inside a cache is never crossed (a bind mount of
//! the data directory into the cache once cost the journal, the state and the socket), what
//! stays is counted and named, and a name from the directory listing is shown escaped (a
//! `\n` in a file name must not forge a log line).
// Real files and a real `mount --bind` (root only: skipped, said so, without it).
#![allow(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    clippy::disallowed_macros
)]

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use ballast_core::cache::Cleared;
use ballast_core::config::{Config, Source, load};
use ballast_supervisor::cache::clear;

fn config(cwd: &Path, path: &str) -> Config {
    let text = format!(
        "[[services]]\nname = \"bot\"\ncommand = \"x\"\ncwd = \"{}\"\n[[artifacts]]\nservice = \"bot\"\nkind = \"cache\"\npath = \"{path}\"\n",
        cwd.display()
    );
    load(
        Some(Source {
            path: "ballast.toml",
            text: &text,
        }),
        &[],
    )
    .unwrap()
}

/// Clear bot's cache `cwd/cache` as declared now.
fn clear_it(data: &Path, cwd: &Path) -> Cleared {
    let dir = cwd.join("cache").display().to_string();
    clear(
        data,
        &config(cwd, "cache"),
        None,
        ("bot", "cache"),
        &dir,
        "test",
    )
}

/// A bind mount, unmounted when dropped.
struct Bind(PathBuf);

impl Bind {
    fn new(from: &Path, to: &Path) -> Option<Bind> {
        let ok = Command::new("mount")
            .arg("--bind")
            .arg(from)
            .arg(to)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Bind(to.to_owned()))
    }
}

impl Drop for Bind {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_bind_mount_of_the_data_directory_inside_a_cache_is_never_crossed_and_is_named_as_left() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let data = d.join("data");
    std::fs::create_dir_all(data.join("journal")).unwrap();
    std::fs::write(data.join("journal/ops.jsonl"), b"{}\n").unwrap();
    std::fs::write(data.join("state.json"), b"{}").unwrap();
    let cache = d.join("bot/cache");
    std::fs::create_dir_all(cache.join("vol")).unwrap();
    std::fs::write(cache.join("junk"), b"12").unwrap();
    let Some(_bind) = Bind::new(&data, &cache.join("vol")) else {
        eprintln!("SKIPPED: `mount --bind` is not permitted here (it needs root)");
        return;
    };
    let c = clear_it(&data, &d.join("bot"));
    assert_eq!(c.refused, None, "{c:?}");
    assert!(
        data.join("journal/ops.jsonl").exists(),
        "the journal stays: {c:?}"
    );
    assert!(data.join("state.json").exists(), "the state stays: {c:?}");
    assert_eq!(c.files, 1, "junk only: {c:?}");
    assert!(!cache.join("junk").exists());
    let s = c.summary();
    assert!(s.contains("vol: it is Ballast's data directory"), "{s}");
    assert!(!s.contains("nothing is left") && c.left >= 1, "{s}");
}

#[test]
fn a_bind_mount_of_any_directory_inside_a_cache_is_left_with_what_it_shows() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::create_dir_all(d.join("elsewhere/sub")).unwrap();
    std::fs::write(d.join("elsewhere/sub/precious"), b"p").unwrap();
    let cache = d.join("bot/cache");
    std::fs::create_dir_all(cache.join("a/vol")).unwrap();
    let Some(_bind) = Bind::new(&d.join("elsewhere"), &cache.join("a/vol")) else {
        eprintln!("SKIPPED: `mount --bind` is not permitted here (it needs root)");
        return;
    };
    let c = clear_it(&d.join("data"), &d.join("bot"));
    assert!(d.join("elsewhere/sub/precious").exists(), "{c:?}");
    let s = c.summary();
    assert!(s.contains("a/vol: a mount point"), "{s}");
    // vol and a (which holds it) stay: exactly 2 entries, not "at least".
    assert_eq!((c.left, c.more), (2, false), "{s}");
}

#[test]
fn names_from_the_listing_are_shown_escaped_and_what_stays_is_counted() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let cache = d.join("bot/cache");
    // A name with a newline, too deep to be cleared: its message must stay on one line.
    let mut deep = cache.join("x\n2026-12-01 ERROR forged");
    for i in 0..40 {
        deep = deep.join(i.to_string());
    }
    std::fs::create_dir_all(&deep).unwrap();
    // A name that is not UTF-8: named with its bytes escaped, not `?`.
    let bad = cache.join(std::ffi::OsStr::from_bytes(b"caf\xe9"));
    std::fs::write(&bad, b"x").unwrap();
    let c = clear_it(&d.join("data"), &d.join("bot"));
    let s = c.summary();
    assert!(!s.contains('\n'), "one line: {s}");
    assert!(s.contains("x\\n2026"), "escaped: {s}");
    assert!(s.contains("caf\\xe9"), "escaped bytes: {s}");
    assert!(!s.contains("nothing is left"), "{s}");
}
