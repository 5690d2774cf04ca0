//! Moving damaged content aside. Nothing is ever deleted by a heal: it goes to
//! `quarantine/<relative path>.corrupt.<UTC timestamp>` first (SPEC principle 5); a file
//! outside the data directory (a user service's declared artifact) goes next to itself, as
//! `<name>.corrupt.<UTC timestamp>`. Nothing is written through a symbolic link inside the
//! data directory (`quarantine/` as a link to elsewhere is refused).

use std::io;
use std::path::{Path, PathBuf};

use ballast_core::Clock;
use serde::Serialize;

use crate::layout::Layout;
use crate::storage::Storage;

/// One applied heal, for the ops journal and reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Heal {
    /// The component healed (`journal`, `snapshot`, …).
    pub component: String,
    /// What was done.
    pub action: String,
    /// The file acted on, relative to the data directory.
    pub path: String,
    /// Where the original content was copied or moved.
    pub quarantined: Option<String>,
    pub before: String,
    pub after: String,
}

/// Copies and moves into the quarantine directory.
pub struct Quarantine<'a> {
    pub storage: &'a dyn Storage,
    pub layout: &'a Layout,
    pub clock: &'a dyn Clock,
}

impl Quarantine<'_> {
    fn target(&self, path: &Path) -> PathBuf {
        let (dir, rel) = match path.strip_prefix(self.layout.root()) {
            Ok(rel) => (
                self.layout
                    .quarantine()
                    .join(rel.parent().unwrap_or(Path::new(""))),
                rel,
            ),
            Err(_) if path.is_absolute() => {
                (path.parent().unwrap_or(Path::new("/")).to_path_buf(), path)
            }
            Err(_) => (
                self.layout
                    .quarantine()
                    .join(path.parent().unwrap_or(Path::new(""))),
                path,
            ),
        };
        let name = rel.file_name().map_or_else(
            || "unnamed".to_owned(),
            |n| n.to_string_lossy().into_owned(),
        );
        let stamp: String = self
            .clock
            .now()
            .to_string()
            .chars()
            .filter(|c| *c != '-' && *c != ':')
            .collect();
        let base = dir.join(format!("{name}.corrupt.{stamp}"));
        let mut candidate = base.clone();
        let mut n = 1;
        while self.storage.exists(&candidate) {
            candidate = PathBuf::from(format!("{}.{n}", base.display()));
            n += 1;
        }
        candidate
    }

    /// Durably copy `path` into quarantine; returns the copy's path.
    pub fn copy(&self, path: &Path) -> io::Result<PathBuf> {
        let data = self.storage.read(path)?;
        self.store(path, &data)
    }

    /// Durably write `data` (part of `path`'s content, e.g. its corrupt lines) into
    /// quarantine under `path`'s name; returns the copy's path.
    pub fn store(&self, path: &Path, data: &[u8]) -> io::Result<PathBuf> {
        let target = self.target(path);
        let dir = target.parent().unwrap_or(Path::new("")).to_path_buf();
        self.layout.check_no_symlink(&target)?;
        self.storage.create_dir_all(&dir)?;
        self.layout.check_no_symlink(&target)?;
        let mut f = self.storage.create_new(&target)?;
        f.write_all(data)?;
        f.sync_data()?;
        self.storage.sync_dir(&dir)?;
        Ok(target)
    }

    /// Durably move `path` into quarantine; returns its new path.
    pub fn move_aside(&self, path: &Path) -> io::Result<PathBuf> {
        let target = self.target(path);
        let dir = target.parent().unwrap_or(Path::new("")).to_path_buf();
        self.layout.check_no_symlink(path)?;
        self.layout.check_no_symlink(&target)?;
        self.storage.create_dir_all(&dir)?;
        self.layout.check_no_symlink(&target)?;
        self.storage.rename(path, &target)?;
        self.storage.sync_dir(&dir)?;
        if let Some(src_dir) = path.parent() {
            self.storage.sync_dir(src_dir)?;
        }
        Ok(target)
    }
}
