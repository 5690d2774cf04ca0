//! One engine per data directory: an exclusive `flock` on `run/engine.lock`, held for the
//! engine's life (the kernel releases it when the process ends, however it ends). The file
//! holds the owner's pid, for the message a second engine gets.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rustix::fs::{FlockOperation, flock};

/// The held lock (released on drop or exit).
#[derive(Debug)]
pub struct EngineLock {
    _file: File,
    pub path: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another engine{} holds {path} — one engine per data directory\n    help: stop it (or `ballast status` if a supervisor runs it), or use another --data-dir",
        owner.map(|p| format!(" (pid {p})")).unwrap_or_default()
    )]
    Held { path: String, owner: Option<u32> },
    #[error("cannot lock {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Take `run/engine.lock` in `run_dir`, or say who has it.
pub fn acquire(run_dir: &Path) -> Result<EngineLock, LockError> {
    let path = run_dir.join("engine.lock");
    let shown = path.display().to_string();
    let io = |source| LockError::Io {
        path: shown.clone(),
        source,
    };
    // Never through a link at run/engine.lock (a link there is reported by `ballast heal`).
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(&path)
        .map_err(io)?;
    if let Err(e) = flock(&file, FlockOperation::NonBlockingLockExclusive) {
        if e == rustix::io::Errno::WOULDBLOCK {
            let mut text = String::new();
            let _ = (&mut file).take(4096).read_to_string(&mut text);
            return Err(LockError::Held {
                path: shown,
                owner: text.trim().parse().ok(),
            });
        }
        return Err(io(e.into()));
    }
    file.set_len(0).map_err(io)?;
    file.rewind().map_err(io)?;
    writeln!(file, "{}", std::process::id()).map_err(io)?;
    Ok(EngineLock { _file: file, path })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_owner_and_the_lock_frees_on_drop() {
        let tmp = tempfile::tempdir().unwrap();
        let first = acquire(tmp.path()).unwrap();
        // flock locks belong to the open file description: a second open conflicts.
        let e = acquire(tmp.path()).unwrap_err().to_string();
        assert!(
            e.contains(&format!("pid {}", std::process::id()))
                && e.contains("one engine per data directory"),
            "{e}"
        );
        drop(first);
        acquire(tmp.path()).unwrap();
    }
}
