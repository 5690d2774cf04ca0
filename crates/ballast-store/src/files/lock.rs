//! `run/engine.lock` and `run/supervisor.lock`: one text line, `pid [started]`, naming the
//! holder of the `flock` on the file (the lock itself is the kernel's: [`crate::pidlock`]
//! takes it and writes and reads this line through the locked descriptor). The line has no
//! version: its words after the second are ignored by every reader, so a later field can be
//! added without one.

use serde::{Deserialize, Serialize};

use crate::Layout;
use crate::pidlock;

/// The longest lock file read (it holds one short line).
pub const MAX_BYTES: u64 = crate::limits::LOCK_FILE_MAX_BYTES;

/// Who holds a lock, as its file says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockFile {
    pub pid: Option<u32>,
    /// When it started (UTC), if the file says.
    pub started: Option<String>,
}

impl LockFile {
    /// This process, started at `started`.
    pub fn this_process(started: Option<&str>) -> Self {
        LockFile {
            pid: Some(std::process::id()),
            started: started.map(str::to_owned),
        }
    }

    /// The line the file holds: `42 2026-12-01T09:00:00.000Z\n` or `42\n`.
    pub fn line(&self) -> String {
        let pid = self.pid.map(|p| p.to_string()).unwrap_or_default();
        match &self.started {
            Some(t) => format!("{pid} {t}\n"),
            None => format!("{pid}\n"),
        }
    }

    /// The file's text read back: what it does not say (a missing or non-numeric pid) is
    /// `None`, never a guess.
    pub fn parse(text: &str) -> Self {
        let mut words = text.split_whitespace();
        LockFile {
            pid: words.next().and_then(|p| p.parse().ok()),
            started: words.next().map(str::to_owned),
        }
    }

    /// `pid 42, started 2026-12-01T09:00:00.000Z`, `pid 42`, or that it is not recorded.
    pub fn describe(&self) -> String {
        match (&self.pid, &self.started) {
            (Some(p), Some(t)) => format!("pid {p}, started {t}"),
            (Some(p), None) => format!("pid {p}"),
            _ => "its pid is not recorded".to_owned(),
        }
    }
}

/// Who holds `run/engine.lock`, if anyone does (nothing is written).
pub fn engine_holder(layout: &Layout) -> Option<LockFile> {
    pidlock::holder(&layout.engine_lock())
}

/// Who holds `run/supervisor.lock`, if anyone does (nothing is written).
pub fn supervisor_holder(layout: &Layout) -> Option<LockFile> {
    pidlock::holder(&layout.supervisor_lock())
}

#[cfg(test)]
mod tests {
    use super::super::test_util::layout;
    use super::*;

    #[test]
    fn a_lock_line_round_trips_and_old_lines_read_back() {
        for l in [
            LockFile::this_process(Some("2026-12-01T09:00:00.000Z")),
            LockFile::this_process(None),
        ] {
            assert_eq!(LockFile::parse(&l.line()), l);
        }
        // As today's supervisor and engine write them.
        assert_eq!(
            LockFile::parse("42 2026-12-01T09:00:00.000Z\n").describe(),
            "pid 42, started 2026-12-01T09:00:00.000Z"
        );
        assert_eq!(LockFile::parse("42\n").describe(), "pid 42");
        // What it does not understand is not guessed.
        assert_eq!(LockFile::parse("").pid, None);
        assert_eq!(LockFile::parse("x 1").pid, None);
        assert_eq!(LockFile::parse("-3").describe(), "its pid is not recorded");
    }

    #[test]
    fn the_holders_are_read_through_the_layout_and_an_oversize_file_is_read_bounded() {
        let (_t, l) = layout();
        assert_eq!(engine_holder(&l), None);
        let held = pidlock::take(&l.engine_lock(), 0o600, Some("t0"))
            .unwrap()
            .unwrap();
        assert_eq!(engine_holder(&l), Some(LockFile::this_process(Some("t0"))));
        assert_eq!(supervisor_holder(&l), None);
        drop(held);
        // A lock file grown past its bound: only the first MAX_BYTES are read.
        std::fs::write(
            l.supervisor_lock(),
            format!("7 {}", "x".repeat(2 * MAX_BYTES as usize)),
        )
        .unwrap();
        let held = std::fs::File::open(l.supervisor_lock()).unwrap();
        rustix::fs::flock(&held, rustix::fs::FlockOperation::LockExclusive).unwrap();
        let h = supervisor_holder(&l).unwrap();
        assert_eq!(h.pid, Some(7));
        assert!(h.started.unwrap().len() < MAX_BYTES as usize);
    }
}
