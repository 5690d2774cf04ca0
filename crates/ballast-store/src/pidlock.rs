//! A lock file held for a process's life: an exclusive `flock` (the kernel releases it however
//! the process ends) on a file that says who holds it — pid and, optionally, start time — for
//! the refusal the next one prints. `run/engine.lock` (one engine per data directory) and
//! `run/supervisor.lock` (one supervisor per data directory) are both this. The file is opened
//! without following a link at its name, and is the one thing this crate writes outside a
//! [`crate::Storage`]: a lock is about a live process, not data.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use rustix::fs::{FlockOperation, flock};

/// The longest lock file read (it holds one short line).
const MAX_LOCK_FILE: u64 = 4096;

/// Who holds a lock, as its file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub pid: Option<u32>,
    /// When it started (UTC), if the file says.
    pub started: Option<String>,
}

impl Holder {
    /// `pid 42, started 2026-12-01T09:00:00.000Z`, `pid 42`, or that it is not recorded.
    pub fn describe(&self) -> String {
        match (&self.pid, &self.started) {
            (Some(p), Some(t)) => format!("pid {p}, started {t}"),
            (Some(p), None) => format!("pid {p}"),
            _ => "its pid is not recorded".to_owned(),
        }
    }
}

/// Take the lock at `path` (created with `mode`) and write `pid [started]` into it; or, when
/// another process holds it, who that is.
pub fn take(
    path: &Path,
    mode: u32,
    started: Option<&str>,
) -> std::io::Result<Result<File, Holder>> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(mode)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)?;
    if let Err(e) = flock(&file, FlockOperation::NonBlockingLockExclusive) {
        if e == rustix::io::Errno::WOULDBLOCK {
            return Ok(Err(read_holder(&mut file)));
        }
        return Err(e.into());
    }
    file.set_len(0)?;
    file.rewind()?;
    match started {
        Some(t) => writeln!(file, "{} {t}", std::process::id())?,
        None => writeln!(file, "{}", std::process::id())?,
    }
    Ok(Ok(file))
}

/// Who holds the lock at `path`, if anyone does (a shared lock is tried and released at once;
/// nothing is written). A FIFO or device there is never opened for reading.
pub fn holder(path: &Path) -> Option<Holder> {
    let mut f = crate::bounded::open_regular(path).ok()?;
    match flock(&f, FlockOperation::NonBlockingLockShared) {
        Ok(()) => {
            let _ = flock(&f, FlockOperation::Unlock);
            None
        }
        Err(_) => Some(read_holder(&mut f)),
    }
}

fn read_holder(file: &mut File) -> Holder {
    let mut text = String::new();
    let _ = file.rewind();
    let _ = Read::take(&mut *file, MAX_LOCK_FILE).read_to_string(&mut text);
    let mut words = text.split_whitespace();
    Holder {
        pid: words.next().and_then(|p| p.parse().ok()),
        started: words.next().map(str::to_owned),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_taker_learns_the_holder_and_the_lock_frees_on_drop() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("x.lock");
        let first = take(&path, 0o600, Some("2026-12-01T09:00:00.000Z"))
            .unwrap()
            .unwrap();
        // flock locks belong to the open file description: a second open conflicts.
        let h = take(&path, 0o600, None).unwrap().unwrap_err();
        assert_eq!(h.pid, Some(std::process::id()));
        assert_eq!(h.started.as_deref(), Some("2026-12-01T09:00:00.000Z"));
        assert_eq!(holder(&path), Some(h));
        drop(first);
        assert_eq!(holder(&path), None);
        take(&path, 0o600, None).unwrap().unwrap();
    }
}
