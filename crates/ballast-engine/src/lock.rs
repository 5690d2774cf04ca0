//! One engine per data directory: an exclusive `flock` on `run/engine.lock`, held for the
//! engine's life (the kernel releases it when the process ends, however it ends). The file
//! holds the owner's pid, for the message a second engine gets.
//!
//! A standalone engine is a runtime of its own: it also holds an exclusive `flock` on the data
//! directory itself (as `ballast run`'s supervisor does), so a removed lock file never lets a
//! second runtime in. A supervised engine does not: its supervisor holds it — and the engine
//! refuses to start when another process than its supervisor does.

use std::fs::File;
use std::path::{Path, PathBuf};

use ballast_store::layout::rel;
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
    #[error(
        "a supervisor{} runs for the data directory {dir}: it holds {path} and runs its own engine; a standalone engine beside it is refused — nothing was started\n    help: `ballast status --data-dir {dir}` shows it; stop it first, or use another --data-dir",
        owner.map(|p| format!(" (pid {p})")).unwrap_or_default()
    )]
    Supervisor {
        dir: String,
        path: String,
        owner: Option<u32>,
    },
    #[error(
        "another Ballast runtime ({}) holds the data directory {dir} (its lock file was removed): one runtime per data directory; nothing was started\n    help: stop it first{} (it stops cleanly on SIGTERM), or use another --data-dir",
        holder.describe(),
        holder.pid.map(|p| format!(" (`kill -TERM {p}`)")).unwrap_or_default()
    )]
    Runtime {
        dir: String,
        holder: pidlock::DirHolder,
    },
    #[error("cannot lock {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// The locks a running engine holds (released on drop or exit).
#[derive(Debug)]
pub struct RuntimeLock {
    /// The data directory's own lock: a standalone engine's, or a supervised engine's whose
    /// parent holds none.
    pub dir: Option<pidlock::DirLock>,
    pub engine: EngineLock,
}

/// Take what an engine on `data_dir` needs before it touches the journal: the data directory's
/// own lock when it runs standalone (`supervisor` is `None`), then `run/engine.lock`. A
/// supervised engine refuses a data directory held by another process than its supervisor.
pub fn acquire_runtime(
    data_dir: &Path,
    run_dir: &Path,
    supervisor: Option<u32>,
) -> Result<RuntimeLock, LockError> {
    let dir = data_dir.display().to_string();
    let held = match pidlock::take_dir(data_dir) {
        Ok(Ok(f)) => Some(f),
        // The supervisor's own (or the kernel did not say whose: not refused on a guess).
        Ok(Err(holder))
            if supervisor.is_some() && holder.pid.is_none_or(|p| Some(p) == supervisor) =>
        {
            None
        }
        Ok(Err(holder)) => {
            let engine = run_dir.join(rel::name(rel::ENGINE_LOCK));
            if let Some(h) = pidlock::holder(&engine) {
                return Err(LockError::Held {
                    path: engine.display().to_string(),
                    owner: h.pid,
                });
            }
            let sup = run_dir.join(rel::name(rel::SUPERVISOR_LOCK));
            if let Some(h) = pidlock::holder(&sup) {
                return Err(LockError::Supervisor {
                    dir,
                    path: sup.display().to_string(),
                    owner: h.pid,
                });
            }
            return Err(LockError::Runtime { dir, holder });
        }
        Err(source) => return Err(LockError::Io { path: dir, source }),
    };
    Ok(RuntimeLock {
        dir: held,
        engine: acquire(run_dir)?,
    })
}

/// Take `run/engine.lock` in `run_dir`, or say who has it. Never through a link at its name
/// (a link there is reported by `ballast heal`).
pub fn acquire(run_dir: &Path) -> Result<EngineLock, LockError> {
    let path = run_dir.join(rel::name(rel::ENGINE_LOCK));
    match pidlock::take(&path, 0o600, None) {
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

    #[test]
    fn a_standalone_engine_holds_the_data_directory_even_when_its_lock_file_is_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let run = tmp.path().join("run");
        std::fs::create_dir_all(&run).unwrap();
        let first = acquire_runtime(tmp.path(), &run, None).unwrap();
        std::fs::remove_file(run.join("engine.lock")).unwrap();
        let e = acquire_runtime(tmp.path(), &run, None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&format!("(pid {}: ", std::process::id()))
                && e.contains("its lock file was removed"),
            "{e}"
        );
        // A supervised engine is refused when another process than its supervisor holds it.
        let e = acquire_runtime(tmp.path(), &run, Some(1)).unwrap_err();
        assert!(matches!(e, LockError::Runtime { .. }), "{e}");
        drop(first);
        acquire_runtime(tmp.path(), &run, None).unwrap();
    }
}
