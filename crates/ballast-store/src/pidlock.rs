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

use crate::limits::{CMDLINE_MAX_BYTES, PROC_LOCKS_MAX_BYTES, PROC_LOCKS_READS_COUNT};

/// Who holds a lock, as its file says ([`crate::files::lock::LockFile`]: the one type of
/// both lock files).
pub type Holder = crate::files::lock::LockFile;

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
        .custom_flags((rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK).bits() as i32)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "{} is not a regular file (a FIFO or a device in its place): it cannot be a lock; move it away, Ballast creates the lock file again",
                path.display()
            ),
        ));
    }
    if let Err(e) = flock(&file, FlockOperation::NonBlockingLockExclusive) {
        if e == rustix::io::Errno::WOULDBLOCK {
            return Ok(Err(read_holder(&mut file)));
        }
        return Err(e.into());
    }
    file.set_len(0)?;
    file.rewind()?;
    file.write_all(Holder::this_process(started).line().as_bytes())?;
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
    let _ = Read::take(&mut *file, crate::files::lock::MAX_BYTES).read_to_string(&mut text);
    Holder::parse(&text)
}

/// Who holds a data directory's own lock, as the kernel says (`/proc/locks`) and, where it
/// can be read, the command line of that process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirHolder {
    pub pid: Option<u32>,
    pub command: Option<String>,
}

impl DirHolder {
    /// `pid 42: ballast run --data-dir d`, `pid 42`, or that the kernel did not say.
    pub fn describe(&self) -> String {
        match (&self.pid, &self.command) {
            (Some(p), Some(c)) => format!("pid {p}: {c}"),
            (Some(p), None) => format!("pid {p}"),
            _ => "its pid could not be read from /proc/locks".to_owned(),
        }
    }
}

/// Take an exclusive `flock` on the directory `dir` itself (an `O_DIRECTORY` descriptor, closed
/// on exec), held while the returned file lives; or, when another process holds it, who that
/// is. Unlike a lock file, nothing an operator can delete inside the directory releases it: a
/// runtime holds its data directory this way. On a file system that cannot lock a directory
/// (some network file systems), [`DirLock::Unsupported`]: the lock files alone protect it there.
pub fn take_dir(dir: &Path) -> std::io::Result<Result<DirLock, DirHolder>> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::DIRECTORY.bits() as i32)
        .open(dir)?;
    match flock(&file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(Ok(DirLock::Held(file))),
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => Ok(Err(dir_holder_of(&file))),
        Err(e)
            if [
                rustix::io::Errno::INVAL,
                rustix::io::Errno::NOLCK,
                rustix::io::Errno::BADF,
                rustix::io::Errno::OPNOTSUPP,
            ]
            .contains(&e) =>
        {
            Ok(Ok(DirLock::Unsupported(e.to_string())))
        }
        Err(e) => Err(e.into()),
    }
}

/// A directory's own lock, taken.
#[derive(Debug)]
pub enum DirLock {
    /// Held while this lives.
    Held(File),
    /// The file system cannot lock a directory (why, as the kernel said).
    Unsupported(String),
}

impl DirLock {
    /// The warning to give when the directory could not be locked.
    pub fn warning(&self, dir: &Path) -> Option<String> {
        match self {
            DirLock::Held(_) => None,
            DirLock::Unsupported(why) => Some(format!(
                "the file system of {} cannot lock a directory ({why}): only the lock files in run/ keep a second runtime out — do not remove them",
                dir.display()
            )),
        }
    }
}

/// Who holds the lock on the directory `dir` itself, if anyone does (nothing is taken).
pub fn dir_holder(dir: &Path) -> Option<DirHolder> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::DIRECTORY.bits() as i32)
        .open(dir)
        .ok()?;
    match flock(&file, FlockOperation::NonBlockingLockShared) {
        Ok(()) => {
            let _ = flock(&file, FlockOperation::Unlock);
            None
        }
        Err(_) => Some(dir_holder_of(&file)),
    }
}

fn dir_holder_of(file: &File) -> DirHolder {
    // `/proc/locks` is read in pieces while other processes take and drop locks, so one
    // read may miss a line: it is read again (a few times at most) before "not said".
    let pid = rustix::fs::fstat(file).ok().and_then(|st| {
        (0..PROC_LOCKS_READS_COUNT).find_map(|_| {
            let mut text = String::new();
            File::open("/proc/locks")
                .and_then(|f| Read::take(f, PROC_LOCKS_MAX_BYTES).read_to_string(&mut text))
                .ok()?;
            flock_holder(
                &text,
                rustix::fs::major(st.st_dev),
                rustix::fs::minor(st.st_dev),
                st.st_ino,
            )
        })
    });
    DirHolder {
        pid,
        command: pid.and_then(command_line),
    }
}

/// The pid of the `FLOCK` write lock on the inode `(major, minor, ino)` in `/proc/locks`'s text
/// (`1: FLOCK  ADVISORY  WRITE 42 fd:01:1234 0 EOF`; waiters, marked `->`, are skipped).
fn flock_holder(text: &str, major: u32, minor: u32, ino: u64) -> Option<u32> {
    text.lines().find_map(|line| {
        let w: Vec<&str> = line.split_whitespace().collect();
        if w.len() < 6 || w[1] != "FLOCK" || w[3] != "WRITE" {
            return None;
        }
        let mut id = w[5].split(':');
        let (ma, mi, i) = (id.next()?, id.next()?, id.next()?);
        let same = u32::from_str_radix(ma, 16).ok()? == major
            && u32::from_str_radix(mi, 16).ok()? == minor
            && i.parse::<u64>().ok()? == ino;
        same.then(|| w[4].parse().ok()).flatten()
    })
}

/// `/proc/PID/cmdline`, its arguments joined by spaces (bounded).
fn command_line(pid: u32) -> Option<String> {
    let mut raw = Vec::new();
    File::open(format!("/proc/{pid}/cmdline"))
        .and_then(|f| Read::take(f, CMDLINE_MAX_BYTES).read_to_end(&mut raw))
        .ok()?;
    let words: Vec<String> = raw
        .split(|b| *b == 0)
        .filter(|w| !w.is_empty())
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
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

    #[test]
    fn a_directory_lock_is_exclusive_names_its_holder_and_frees_on_drop() {
        let tmp = tempfile::tempdir().unwrap();
        let first = take_dir(tmp.path()).unwrap().unwrap();
        assert!(matches!(first, DirLock::Held(_)));
        let h = take_dir(tmp.path()).unwrap().unwrap_err();
        assert_eq!(h.pid, Some(std::process::id()));
        assert!(
            h.describe()
                .starts_with(&format!("pid {}: ", std::process::id()))
        );
        assert_eq!(dir_holder(tmp.path()), Some(h));
        drop(first);
        assert_eq!(dir_holder(tmp.path()), None);
        take_dir(tmp.path()).unwrap().unwrap();
    }

    #[test]
    fn the_flock_holder_is_read_from_proc_locks_text() {
        let text = "1: POSIX  ADVISORY  WRITE 7 fd:01:99 0 EOF\n\
                    2: FLOCK  ADVISORY  WRITE 42 fd:01:1234 0 EOF\n\
                    2: -> FLOCK  ADVISORY  WRITE 43 fd:01:1234 0 EOF\n";
        assert_eq!(flock_holder(text, 0xfd, 1, 1234), Some(42));
        assert_eq!(flock_holder(text, 0xfd, 1, 99), None);
        assert_eq!(flock_holder(text, 8, 1, 1234), None);
    }
}
