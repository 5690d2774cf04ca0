//! One supervisor per data directory: an exclusive `flock` on `run/supervisor.lock`, held for
//! the supervisor's life (the kernel releases it however the process ends). The file says who
//! holds it — pid and start time — for the refusal a second supervisor prints. And a supervisor
//! never starts beside a standalone engine (`ballast engine --standalone` holding
//! `run/engine.lock`): two runtimes on one data directory would have one's safety policy obeyed
//! by the other's engine.
//!
//! The exclusivity itself does not rest on a file an operator can delete: every runtime (this
//! supervisor, a standalone engine) also holds an exclusive `flock` on the data directory
//! itself, taken first. The lock files only name the holder for the refusal; with them
//! removed, the refusal names the holder from `/proc/locks`.

use std::fs::File;
use std::path::{Path, PathBuf};

use ballast_store::pidlock;
pub use ballast_store::pidlock::Holder;

use ballast_store::Layout;

/// The lock file's name in `run/`.
pub const SUPERVISOR_LOCK: &str = "supervisor.lock";
/// The engine's lock file in `run/` (taken by `ballast_engine::lock`).
pub const ENGINE_LOCK: &str = "engine.lock";

/// The held lock (released on drop or exit).
#[derive(Debug)]
pub struct SupervisorLock {
    _file: File,
    /// The data directory's own lock (see the module doc).
    pub dir: pidlock::DirLock,
    pub path: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another supervisor ({}) runs for the data directory {dir}: it holds {path} — one supervisor per data directory; nothing was started\n    help: `ballast status --data-dir {dir}` talks to it; stop it first{} to start a new one, or use another --data-dir",
        holder.describe(),
        holder.pid.map(|p| format!(" (`kill -TERM {p}`)")).unwrap_or_default()
    )]
    Supervisor {
        dir: String,
        path: String,
        holder: Holder,
    },
    #[error(
        "a standalone engine ({}) runs on the data directory {dir}: it holds {path}; a supervisor beside it would drive the wrong engine — nothing was started\n    help: stop it first{} (it stops cleanly on SIGTERM), then `ballast run` starts and supervises the engine itself; or use another --data-dir",
        holder.describe(),
        holder.pid.map(|p| format!(" (`kill -TERM {p}`)")).unwrap_or_default()
    )]
    StandaloneEngine {
        dir: String,
        path: String,
        holder: Holder,
    },
    #[error(
        "another Ballast runtime ({}) holds the data directory {dir} (its lock file was removed): one runtime per data directory; nothing was started\n    help: stop it first{} (it stops cleanly on SIGTERM), or use another --data-dir; `ballast status --data-dir {dir}` talks to it if it is a supervisor",
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

/// Take `run/supervisor.lock` of `data_dir` (its `run/` exists), or say who has it; then make
/// sure no standalone engine holds `run/engine.lock`. An engine left by a supervisor that died
/// (tagged with `BALLAST_SUPERVISOR_PID`) is not refused: the startup self-heal deals with
/// orphans. `started` is the UTC start time written for the next one.
pub fn acquire(data_dir: &Path, started: &str) -> Result<SupervisorLock, LockError> {
    let layout = Layout::new(data_dir);
    let run = layout.run();
    let path = layout.supervisor_lock();
    let shown = path.display().to_string();
    let io = |source| LockError::Io {
        path: shown.clone(),
        source,
    };
    // The data directory itself first: a removed lock file must not let a second runtime in.
    let dir_lock = match pidlock::take_dir(data_dir) {
        Ok(Ok(f)) => f,
        Ok(Err(holder)) => return Err(refusal(data_dir, holder)),
        Err(source) => {
            return Err(LockError::Io {
                path: data_dir.display().to_string(),
                source,
            });
        }
    };
    let file = match pidlock::take(&path, 0o600, Some(started)) {
        Ok(Ok(file)) => file,
        Ok(Err(holder)) => {
            return Err(LockError::Supervisor {
                dir: data_dir.display().to_string(),
                path: shown,
                holder,
            });
        }
        Err(e) => return Err(io(e)),
    };
    if let Some(holder) = standalone_engine(&run) {
        return Err(LockError::StandaloneEngine {
            dir: data_dir.display().to_string(),
            path: layout.engine_lock().display().to_string(),
            holder,
        });
    }
    Ok(SupervisorLock {
        _file: file,
        dir: dir_lock,
        path,
    })
}

/// Why the data directory is taken: the holder its lock files name, else the one the kernel
/// names (the lock file was removed).
fn refusal(data_dir: &Path, holder: pidlock::DirHolder) -> LockError {
    let layout = Layout::new(data_dir);
    let run = layout.run();
    let dir = data_dir.display().to_string();
    if let Some(h) = self::holder(&run, SUPERVISOR_LOCK) {
        return LockError::Supervisor {
            dir,
            path: layout.supervisor_lock().display().to_string(),
            holder: h,
        };
    }
    if let Some(h) = standalone_engine(&run) {
        return LockError::StandaloneEngine {
            dir,
            path: layout.engine_lock().display().to_string(),
            holder: h,
        };
    }
    LockError::Runtime { dir, holder }
}

/// Who holds the lock file `name` in `run_dir`, if anyone does (nothing is written).
pub fn holder(run_dir: &Path, name: &str) -> Option<Holder> {
    pidlock::holder(&run_dir.join(name))
}

/// How long the holder of `run/engine.lock` whose environment cannot be read (a process in
/// the middle of its exit: the kernel has freed its memory, not yet its files and so its
/// lock) is given to finish exiting before it is taken for a standalone engine.
pub const EXITING_HOLDER_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// What the environment of the engine lock's holder says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineHolder {
    /// A service of some supervisor (tagged with `BALLAST_SUPERVISOR_PID`): an orphan of a
    /// dead supervisor is the startup self-heal's to end.
    Supervised,
    /// A standalone engine: refused beside.
    Standalone,
    /// Its environment is unreadable or empty: a process that is exiting (an orphaned engine
    /// ending after its supervisor's kill -9) or gone.
    Unknown,
}

/// Classify the holder by its `/proc/<pid>/environ` (`None`: unreadable). Pure.
pub fn classify_holder(environ: Option<&[u8]>) -> EngineHolder {
    match environ {
        None | Some([]) => EngineHolder::Unknown,
        Some(env)
            if env
                .split(|b| *b == 0)
                .any(|v| v.starts_with(b"BALLAST_SUPERVISOR_PID=")) =>
        {
            EngineHolder::Supervised
        }
        Some(_) => EngineHolder::Standalone,
    }
}

/// The holder of `run/engine.lock` when it is not a service of some supervisor. A holder
/// whose environment cannot be read is waited for (at most [`EXITING_HOLDER_GRACE`]): an
/// engine orphaned by a supervisor's kill -9 that is exiting must not be taken for a
/// standalone one — `ballast run` restarted at once (as systemd does) would refuse to start.
fn standalone_engine(run_dir: &Path) -> Option<Holder> {
    let deadline = std::time::Instant::now() + EXITING_HOLDER_GRACE;
    loop {
        let h = holder(run_dir, ENGINE_LOCK)?;
        let environ = h
            .pid
            .and_then(|pid| std::fs::read(format!("/proc/{pid}/environ")).ok());
        match classify_holder(environ.as_deref()) {
            EngineHolder::Supervised => return None,
            EngineHolder::Standalone => return Some(h),
            EngineHolder::Unknown if std::time::Instant::now() >= deadline => return Some(h),
            EngineHolder::Unknown => std::thread::sleep(std::time::Duration::from_millis(20)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exiting_holder_is_not_taken_for_a_standalone_engine() {
        // A process past the kernel's freeing of its memory reads as an empty environment
        // while it still holds its lock: the orphan of a supervisor killed with -9.
        assert_eq!(classify_holder(Some(b"")), EngineHolder::Unknown);
        assert_eq!(classify_holder(None), EngineHolder::Unknown);
        assert_eq!(
            classify_holder(Some(b"PATH=/bin\0BALLAST_SUPERVISOR_PID=42\0")),
            EngineHolder::Supervised
        );
        assert_eq!(
            classify_holder(Some(b"PATH=/bin\0HOME=/root\0")),
            EngineHolder::Standalone
        );
    }

    #[test]
    fn the_lock_names_are_the_layout_s() {
        use ballast_store::layout::rel;
        assert_eq!(SUPERVISOR_LOCK, rel::name(rel::SUPERVISOR_LOCK));
        assert_eq!(ENGINE_LOCK, rel::name(rel::ENGINE_LOCK));
    }

    #[test]
    fn a_second_supervisor_is_refused_with_the_owner_and_the_lock_frees_on_drop() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("run")).unwrap();
        let first = acquire(tmp.path(), "2026-12-01T09:00:00.000Z").unwrap();
        let e = acquire(tmp.path(), "later").unwrap_err().to_string();
        assert!(
            e.contains(&format!(
                "pid {}, started 2026-12-01T09:00:00.000Z",
                std::process::id()
            )) && e.contains("one supervisor per data directory"),
            "{e}"
        );
        assert_eq!(
            holder(&tmp.path().join("run"), SUPERVISOR_LOCK).and_then(|h| h.pid),
            Some(std::process::id())
        );
        drop(first);
        assert_eq!(holder(&tmp.path().join("run"), SUPERVISOR_LOCK), None);
        acquire(tmp.path(), "now").unwrap();
    }
}
