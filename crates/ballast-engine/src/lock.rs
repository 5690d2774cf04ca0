//! One engine per data directory: an exclusive `flock` on `run/engine.lock`, held for the
//! engine's life (the kernel releases it when the process ends, however it ends). The file
//! holds the owner's pid, for the message a second engine gets.

use std::fs::File;
use std::path::{Path, PathBuf};

use ballast_store::pidlock;

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

/// Take `run/engine.lock` in `run_dir`, or say who has it. Never through a link at its name
/// (a link there is reported by `ballast heal`).
pub fn acquire(run_dir: &Path) -> Result<EngineLock, LockError> {
    let path = run_dir.join("engine.lock");
    match pidlock::take(&path, 0o644, None) {
        Ok(Ok(file)) => Ok(EngineLock { _file: file, path }),
        Ok(Err(holder)) => Err(LockError::Held {
            path: path.display().to_string(),
            owner: holder.pid,
        }),
        Err(source) => Err(LockError::Io {
            path: path.display().to_string(),
            source,
        }),
    }
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
