//! One type per file that two processes share, each with its reader and writer — and nobody
//! else reads or writes these files (STYLE §9, "one type per file format"):
//!
//! | file | type | written by | read by |
//! |---|---|---|---|
//! | `run/engine.heartbeat` | [`heartbeat::Heartbeat`] | engine | supervisor, CLI, recovery |
//! | `state/policy.json` | [`ballast_core::policy::PolicyState`] ([`policy`]) | supervisor | engine, supervisor |
//! | `KILL_SWITCH` | [`kill_switch::KillSwitch`] | CLI (`ballast kill`) | engine, CLI |
//! | `KILL_SWITCH.release` | [`kill_switch::ReleaseFile`] | CLI (`ballast resume`) | engine |
//! | `run/engine.lock`, `run/supervisor.lock` | [`lock::LockFile`] | engine, supervisor | CLI, heal, each other |
//! | `state/health.json` | [`health::HealthReport`] | supervisor | CLI, heal |
//! | `state/disabled.json` | [`disabled::DisabledFile`] | supervisor | supervisor (at its start) |
//! | `run/engine-config.json` | [`ballast_core::config::in_force::InForce`] ([`engine_config`]) | supervisor (start, reload) | engine (at its start) |
//! | `state/reconcile-choice.json` | [`reconcile_choice::ChoiceFile`] | supervisor (`ballast reconcile`, the API), or the CLI with no supervisor | engine (removes it once journaled) |
//! | `state/engine-settings.json` | [`ballast_core::engine::SettingsFile`] ([`engine_settings`]) | supervisor (reload) | engine |
//!
//! Every reader goes through [`Storage::read_bounded`] (a regular file, at most the type's
//! limit) and rejects what it does not understand — a newer `version`, a bad shape — with a
//! [`FileError`] that says what, where, the value and what to do. The `version` field is
//! written by this code and optional on read: a file written before it existed is version 1.
//! (The lock files are one text line read through the locked descriptor, see [`lock`]; the
//! engine snapshots have their own checked format in [`crate::snapshot`].)

pub mod disabled;
pub mod engine_config;
pub mod engine_settings;
pub mod health;
pub mod heartbeat;
pub mod kill_switch;
pub mod lock;
pub mod policy;
pub mod reconcile_choice;

use std::io;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use crate::bounded::ReadError;
use crate::storage::Storage;

/// The format version every JSON file of this module is written with.
pub const VERSION: u32 = 1;

/// `version` of a file written before the field existed.
pub(crate) fn v1() -> u32 {
    VERSION
}

/// Why a shared file was not read (a write fails with the `io::Error` of the step that
/// failed, as every write through `Storage`).
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// Missing, not a regular file, over its limit, or unreadable (the error says which).
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(
        "{} is {what} of format version {found}, newer than version {supported} that this Ballast reads: a newer Ballast wrote it; run that version, or move the file away if it is stale",
        path.display()
    )]
    Version {
        path: PathBuf,
        what: &'static str,
        /// As written (any JSON number: `2`, `2.0`, `1e1`).
        found: f64,
        supported: u32,
    },
    #[error("{} is not {what} Ballast wrote ({detail}): {help}", path.display())]
    Invalid {
        path: PathBuf,
        what: &'static str,
        /// What is wrong, in words.
        detail: String,
        /// What to do.
        help: &'static str,
    },
}

impl FileError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, FileError::Read(e) if e.is_not_found())
    }

    /// The reason alone, without the file's name (for messages that name it already).
    pub fn reason(&self) -> String {
        match self {
            FileError::Invalid { detail, .. } => detail.clone(),
            FileError::Version {
                found, supported, ..
            } => format!(
                "format version {found}, newer than version {supported} that this Ballast reads: a newer Ballast wrote it"
            ),
            other => other.to_string(),
        }
    }
}

/// Only the version of a JSON object (every other member ignored).
#[derive(serde::Deserialize)]
struct VersionOnly {
    #[serde(default)]
    version: Option<serde_json::Value>,
}

/// The version a JSON text declares, if it declares one as a number (any JSON number: a
/// newer writer's `2.0` or `1e1` is newer too, as for journal records).
pub(crate) fn declared_version(bytes: &[u8]) -> Option<f64> {
    serde_json::from_slice::<VersionOnly>(bytes)
        .ok()
        .and_then(|v| v.version)
        .and_then(|v| v.as_f64())
        .filter(|v| v.is_finite())
}

/// `bytes` (the content of `path`) as `T`: first its version (a newer one is refused before
/// its shape is looked at), then its shape.
pub(crate) fn decode<T: DeserializeOwned>(
    path: &Path,
    bytes: &[u8],
    what: &'static str,
    help: &'static str,
) -> Result<T, FileError> {
    if let Some(found) = declared_version(bytes).filter(|v| *v > f64::from(VERSION)) {
        return Err(FileError::Version {
            path: path.to_path_buf(),
            what,
            found,
            supported: VERSION,
        });
    }
    serde_json::from_slice(bytes).map_err(|e| FileError::Invalid {
        path: path.to_path_buf(),
        what,
        detail: e.to_string(),
        help,
    })
}

/// The bounded read of `path` as `T` ([`decode`]).
pub(crate) fn read_json<T: DeserializeOwned>(
    storage: &dyn Storage,
    path: &Path,
    limit: u64,
    what: &'static str,
    help: &'static str,
) -> Result<T, FileError> {
    let bytes = storage.read_bounded(path, limit)?;
    decode(path, &bytes, what, help)
}

/// Temp files written so far by this process (a part of each one's name).
static TEMPS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A temp file beside `path`, unique to this writer: `.<name>.<pid>.<n>.tmp` (`n` counts this
/// process's temp files), so concurrent writers of one file — threads or processes — never
/// share a temp file and each rename finds its own (the last rename wins). Its name starts
/// with `.<name>.` and ends with `.tmp`, as every temp file of Ballast's.
pub fn temp_beside(path: &Path) -> PathBuf {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let n = TEMPS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    dir.join(format!(".{name}.{}.{n}.tmp", std::process::id()))
}

/// Replace `path` with `data` durably: a temp file of this writer's own ([`temp_beside`]),
/// fdatasync, rename over the target, fsync of the directory (a reader sees the old file or
/// the new one, never half of one; of concurrent writers, the last rename wins).
pub fn write_atomic(storage: &dyn Storage, path: &Path, data: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = temp_beside(path);
    let written = (|| {
        let mut f = storage.create_truncate(&tmp)?;
        f.write_all(data)?;
        f.sync_data()?;
        drop(f);
        storage.rename(&tmp, path)
    })();
    if written.is_err() {
        // A failed write leaves nothing behind (a full disk, a read-only directory).
        let _ = storage.remove_file(&tmp);
    }
    written?;
    storage.sync_dir(dir)
}

/// Replace `path` with `data` atomically but without syncing (a file about now, rewritten
/// often: a crash may leave the old one): a temp file of this writer's own
/// ([`temp_beside`]), then rename.
pub(crate) fn replace(storage: &dyn Storage, path: &Path, data: &[u8]) -> io::Result<()> {
    let tmp = temp_beside(path);
    let written = (|| {
        let mut f = storage.create_truncate(&tmp)?;
        f.write_all(data)?;
        drop(f);
        storage.rename(&tmp, path)
    })();
    if written.is_err() {
        // As write_atomic: a failed write leaves no temp file behind.
        let _ = storage.remove_file(&tmp);
    }
    written
}

#[cfg(test)]
pub(crate) mod test_util {
    use super::*;
    use crate::storage::RealStorage;

    /// A data directory on a temp dir, created.
    pub fn layout() -> (tempfile::TempDir, crate::Layout) {
        let tmp = tempfile::tempdir().unwrap();
        let layout = crate::Layout::new(tmp.path().join("d"));
        layout.create(&RealStorage).unwrap();
        (tmp, layout)
    }

    /// A file of `size` bytes at `path`.
    pub fn oversize(path: &Path, size: u64) {
        let f = std::fs::File::create(path).unwrap();
        f.set_len(size).unwrap();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::RealStorage;

    #[test]
    fn concurrent_writers_of_one_file_each_succeed_and_the_last_rename_wins() {
        // Each writer has a temp file of its own: none finds its temp renamed away by
        // another (a shared temp name failed here with "No such file or directory").
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("KILL_SWITCH.release");
        let texts: Vec<String> = (0..16).map(|i| format!("writer {i}\n")).collect();
        std::thread::scope(|s| {
            for text in &texts {
                let path = &path;
                s.spawn(move || {
                    for _ in 0..50 {
                        write_atomic(&RealStorage, path, text.as_bytes()).unwrap();
                        replace(&RealStorage, path, text.as_bytes()).unwrap();
                    }
                });
            }
        });
        let last = std::fs::read_to_string(&path).unwrap();
        assert!(texts.contains(&last), "{last:?}");
        let names: Vec<String> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["KILL_SWITCH.release".to_owned()]);
    }

    #[test]
    fn temp_names_are_unique_per_writer_and_marked_as_temp_files() {
        let path = Path::new("/d/state/policy.json");
        let (a, b) = (temp_beside(path), temp_beside(path));
        assert_ne!(a, b);
        for t in [&a, &b] {
            let name = t.file_name().unwrap().to_string_lossy();
            assert!(
                name.starts_with(".policy.json.") && name.ends_with(".tmp"),
                "{name}"
            );
            assert!(
                name.contains(&format!(".{}.", std::process::id())),
                "{name}"
            );
            assert_eq!(t.parent(), path.parent());
        }
    }
}
