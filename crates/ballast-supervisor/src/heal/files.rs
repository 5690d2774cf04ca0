//! The files a heal reads and writes: bounded reads of declared artifacts (never through a
//! link at their name), atomic rewrites, lock files.

use super::*;

/// Temp file, fdatasync, rename over the target, fsync of the directory.
pub use ballast_store::files::write_atomic;

/// A declared file's text (`None`: missing), or why it was not read: it is not a regular
/// file, or it is over [`MAX_ARTIFACT_BYTES`].
pub(super) fn read_bounded(path: &Path) -> (Option<String>, Option<String>) {
    // Not through a link at its name: the heal that would follow writes nothing through one,
    // so the plan (and the dry run) says so rather than planning what cannot be done.
    match bounded::read_own_string(path, MAX_ARTIFACT_BYTES) {
        Ok(text) => (Some(text), None),
        Err(e) if e.is_not_found() => (None, None),
        Err(e) => (None, Some(e.to_string())),
    }
}

/// A lock file's pid (and owner start time): a bare number on the first line, or a JSON
/// object with `pid` (and `start_time`).
pub fn parse_lock(text: &str) -> (Option<i32>, Option<u64>) {
    let t = text.trim();
    if let Ok(v) = serde_json::from_str::<Value>(t) {
        if let Some(o) = v.as_object() {
            let pid = o
                .get("pid")
                .and_then(Value::as_i64)
                .and_then(|p| i32::try_from(p).ok());
            let start = o.get("start_time").and_then(Value::as_u64);
            return (pid.filter(|p| *p > 0), start);
        }
    }
    let mut words = t.split_whitespace();
    let pid = words
        .next()
        .and_then(|w| w.parse::<i32>().ok())
        .filter(|p| *p > 0);
    (pid, words.next().and_then(|w| w.parse().ok()))
}
