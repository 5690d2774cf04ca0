//! The data directory's layout (SPEC §1).

use std::io;
use std::path::{Path, PathBuf};

use crate::storage::Storage;

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
    /// Segmented journal of the engine: the source of truth.
    pub fn engine_journal(&self) -> PathBuf {
        self.root.join("journal").join("engine")
    }
    /// Journal of the supervisor: heals, restarts, alerts, policy changes, approvals.
    pub fn ops_journal(&self) -> PathBuf {
        self.root.join("journal").join("ops")
    }
    /// Atomic JSON snapshots.
    pub fn state(&self) -> PathBuf {
        self.root.join("state")
    }
    /// Everything a heal moved aside; never deleted automatically.
    pub fn quarantine(&self) -> PathBuf {
        self.root.join("quarantine")
    }
    pub fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }
    /// Lock files, pid files, heartbeats, control socket.
    pub fn run(&self) -> PathBuf {
        self.root.join("run")
    }
    pub fn inbox(&self) -> PathBuf {
        self.root.join("inbox")
    }
    /// Present = kill switch engaged.
    pub fn kill_switch(&self) -> PathBuf {
        self.root.join("KILL_SWITCH")
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

    /// `path` relative to the data directory, for messages and reports.
    pub fn display(&self, path: &Path) -> String {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .display()
            .to_string()
    }
}
