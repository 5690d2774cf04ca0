//! The data directory's layout (SPEC §1).

use std::io;
use std::path::{Path, PathBuf};

use crate::limits::LINK_SCAN_MAX_COUNT;
use crate::storage::Storage;
pub use ballast_core::layout::rel;

/// Paths inside one data directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Layout { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
    /// `rel` (a path of [`rel`]) inside the data directory.
    pub fn at(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }
    /// Segmented journal of the engine: the source of truth.
    pub fn engine_journal(&self) -> PathBuf {
        self.at(rel::ENGINE_JOURNAL)
    }
    /// Journal of the supervisor: heals, restarts, alerts, policy changes, approvals.
    pub fn ops_journal(&self) -> PathBuf {
        self.at(rel::OPS_JOURNAL)
    }
    /// Journal of the signals accepted over HTTP: written by the API, taken by the engine.
    pub fn signals_journal(&self) -> PathBuf {
        self.at(rel::SIGNALS_JOURNAL)
    }
    /// The directory of the journals.
    pub fn journals(&self) -> PathBuf {
        self.at(rel::JOURNAL)
    }
    /// Atomic JSON snapshots.
    pub fn state(&self) -> PathBuf {
        self.at(rel::STATE)
    }
    /// Everything a heal moved aside; never deleted automatically.
    pub fn quarantine(&self) -> PathBuf {
        self.at(rel::QUARANTINE)
    }
    pub fn logs(&self) -> PathBuf {
        self.at(rel::LOGS)
    }
    /// Lock files, pid files, heartbeats, control socket.
    pub fn run(&self) -> PathBuf {
        self.at(rel::RUN)
    }
    pub fn inbox(&self) -> PathBuf {
        self.at(rel::INBOX)
    }
    /// Present = a request to engage the kill switch (`ballast kill`). The switch itself is the
    /// engine's journaled state: removing the file releases nothing.
    pub fn kill_switch(&self) -> PathBuf {
        self.at(rel::KILL_SWITCH)
    }
    /// The release `ballast resume` writes, consumed by the engine (the only way the kill
    /// switch is released).
    pub fn kill_switch_release(&self) -> PathBuf {
        self.at(rel::KILL_SWITCH_RELEASE)
    }
    /// The engine's heartbeat ([`crate::files::heartbeat`]).
    pub fn heartbeat(&self) -> PathBuf {
        self.at(rel::HEARTBEAT)
    }
    /// One engine per data directory ([`crate::files::lock`]).
    pub fn engine_lock(&self) -> PathBuf {
        self.at(rel::ENGINE_LOCK)
    }
    /// One supervisor per data directory ([`crate::files::lock`]).
    pub fn supervisor_lock(&self) -> PathBuf {
        self.at(rel::SUPERVISOR_LOCK)
    }
    /// The supervisor's control socket.
    pub fn control_socket(&self) -> PathBuf {
        self.at(rel::CONTROL_SOCKET)
    }
    /// The HTTP API's operator token (generated at first start, 0600).
    pub fn api_token(&self) -> PathBuf {
        self.at(rel::API_TOKEN)
    }
    /// The HTTP API's viewer token (generated at first start, 0600).
    pub fn api_viewer_token(&self) -> PathBuf {
        self.at(rel::API_VIEWER_TOKEN)
    }
    /// The URL the HTTP API bound, written once it listens.
    pub fn api_addr(&self) -> PathBuf {
        self.at(rel::API_ADDR)
    }
    /// The safety policy ([`crate::files::policy`]).
    pub fn policy_file(&self) -> PathBuf {
        self.at(rel::POLICY)
    }
    /// The configuration in force the supervisor hands the engine ([`crate::files::engine_config`]).
    pub fn engine_config_file(&self) -> PathBuf {
        self.at(rel::ENGINE_CONFIG)
    }
    /// The engine settings a reload hands the engine ([`crate::files::engine_settings`]).
    pub fn engine_settings_file(&self) -> PathBuf {
        self.at(rel::ENGINE_SETTINGS)
    }
    /// The operator's choice about a reconciliation finding ([`crate::files::reconcile_choice`]).
    pub fn reconcile_choice_file(&self) -> PathBuf {
        self.at(rel::RECONCILE_CHOICE)
    }
    /// The health report ([`crate::files::health`]).
    pub fn health_report(&self) -> PathBuf {
        self.at(rel::HEALTH)
    }
    /// The disabled modules ([`crate::files::disabled`]).
    pub fn disabled_file(&self) -> PathBuf {
        self.at(rel::DISABLED)
    }

    /// Every directory of the layout.
    pub fn dirs(&self) -> Vec<PathBuf> {
        vec![
            self.engine_journal(),
            self.ops_journal(),
            self.state(),
            self.quarantine(),
            self.logs(),
            self.run(),
            self.inbox(),
        ]
    }

    /// Create every directory of the layout.
    pub fn create(&self, storage: &dyn Storage) -> io::Result<()> {
        // run/ first: a missing data directory is then created with it, owner-only.
        storage.create_private_dir_all(&self.run())?;
        for d in self.dirs() {
            storage.create_dir_all(&d)?;
        }
        Ok(())
    }

    /// Ballast's own directories and files that are symbolic links (the data directory
    /// itself may be one): a dangerous finding, nothing is written through them.
    pub fn symlinks(&self) -> Vec<PathBuf> {
        let is_link =
            |p: &Path| std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink());
        let mut paths = self.dirs();
        paths.push(self.journals());
        paths.push(self.kill_switch());
        paths.push(self.kill_switch_release());
        paths.sort();
        let mut links: Vec<PathBuf> = paths.iter().filter(|p| is_link(p)).cloned().collect();
        // Inside them too: a segment, a snapshot, a lock, a quarantine subdirectory that is a
        // link (at most [`LINK_SCAN_MAX_COUNT`] entries looked at: quarantine/ only grows). The
        // inbox is the bots' (a link to where they write is allowed and only read).
        let mut budget = LINK_SCAN_MAX_COUNT;
        let mut stack: Vec<(PathBuf, usize)> = paths
            .into_iter()
            .filter(|p| *p != self.inbox() && !is_link(p) && p.is_dir())
            .map(|p| (p, 0))
            .collect();
        while let Some((dir, depth)) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                if budget == 0 {
                    break;
                }
                budget -= 1;
                let Ok(t) = e.file_type() else { continue };
                if t.is_symlink() {
                    links.push(e.path());
                } else if t.is_dir() && depth < 4 {
                    stack.push((e.path(), depth + 1));
                }
            }
        }
        links.sort();
        links.dedup();
        links
    }

    /// [`Self::symlinks`] as the healer observes them: each path relative to the data
    /// directory, with where it points.
    pub fn symlink_obs(&self) -> Vec<ballast_core::heal::SymlinkObs> {
        self.symlinks()
            .into_iter()
            .map(|p| ballast_core::heal::SymlinkObs {
                path: self.display(&p),
                target: std::fs::read_link(&p)
                    .map(|t| t.display().to_string())
                    .unwrap_or_default(),
            })
            .collect()
    }

    /// Refuse `path` if a component of it below the data directory is a symbolic link
    /// (`path` itself and its parents may be missing). A path outside the data directory is
    /// not checked.
    pub fn check_no_symlink(&self, path: &Path) -> io::Result<()> {
        let Ok(rel) = path.strip_prefix(&self.root) else {
            return Ok(());
        };
        let mut cur = self.root.clone();
        for c in rel.components() {
            cur.push(c);
            match std::fs::symlink_metadata(&cur) {
                Ok(m) if m.file_type().is_symlink() => return Err(symlink_error(self, &cur)),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Create `dir` (inside the data directory) and its missing parents, never through a
    /// symbolic link below the data directory (which may itself be one).
    pub fn create_own_dir(&self, dir: &Path) -> io::Result<()> {
        self.check_no_symlink(dir)?;
        // With Ballast's directory mode, whatever the umask.
        crate::storage::create_dirs(dir, crate::storage::DIR_MODE)?;
        // A link put in place meanwhile is refused too.
        self.check_no_symlink(dir)
    }

    /// `path` relative to the data directory, for messages and reports.
    pub fn display(&self, path: &Path) -> String {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .display()
            .to_string()
    }
}

fn symlink_error(layout: &Layout, path: &Path) -> io::Error {
    let target = std::fs::read_link(path)
        .map(|t| t.display().to_string())
        .unwrap_or_else(|_| "?".into());
    io::Error::other(format!(
        "{} in the data directory {} is a symbolic link (to {target}); Ballast never writes through a link inside its data directory: replace it with a real directory or file (`ballast heal --dry-run` reports it)",
        layout.display(path),
        layout.root().display()
    ))
}

/// Open `path` for appending, creating it (mode 0600), without following a symbolic link
/// at its last component.
pub fn open_append_nofollow(path: &Path) -> io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    // Non-blocking: a FIFO put in its place fails at once rather than waiting for a reader.
    let f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags((rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK).bits() as i32)
        .open(path)?;
    if !f.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} is not a regular file: Ballast appends only to its own regular files",
                path.display()
            ),
        ));
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::RealStorage;

    #[test]
    fn item_8_nothing_is_written_through_a_link_inside_the_data_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("file"), b"theirs").unwrap();
        // The data directory itself is a link: allowed.
        let real = tmp.path().join("real");
        std::fs::create_dir(&real).unwrap();
        std::os::unix::fs::symlink(&real, tmp.path().join("data")).unwrap();
        let layout = Layout::new(tmp.path().join("data"));
        layout.create(&RealStorage).unwrap();
        layout
            .create_own_dir(&layout.quarantine().join("inbox"))
            .unwrap();
        assert!(layout.symlinks().is_empty());
        // A directory of it as a link: refused, and listed.
        std::fs::remove_dir_all(layout.quarantine()).unwrap();
        std::os::unix::fs::symlink(&outside, layout.quarantine()).unwrap();
        let e = layout
            .create_own_dir(&layout.quarantine().join("inbox"))
            .unwrap_err();
        assert!(e.to_string().contains("quarantine"), "{e}");
        assert!(!outside.join("inbox").exists());
        assert_eq!(layout.symlinks(), vec![layout.quarantine()]);
        // A file of it as a link: Storage's writes and the append helper refuse it.
        let hb = layout.run().join("x.log");
        std::os::unix::fs::symlink(outside.join("file"), &hb).unwrap();
        assert!(RealStorage.open_append(&hb).is_err());
        assert!(RealStorage.create_truncate(&hb).is_err());
        assert!(RealStorage.create_new(&hb).is_err());
        assert!(open_append_nofollow(&hb).is_err());
        assert_eq!(std::fs::read(outside.join("file")).unwrap(), b"theirs");
    }
}
