//! `disk_full` at the storage seam (issue 15): a [`Storage`] that refuses every write with
//! ENOSPC once a budget of writes is spent — what the journal and the snapshots meet on a full
//! disk, through the very code that runs in production. Paper chaos only (the engine wraps its
//! storage in it when `[chaos] modes` names `disk_full`).

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::storage::{Storage, StorageFile};

/// `inner` with a budget of writes (`write_all` calls on any file it opened, and file
/// creations); once spent, every further write fails with ENOSPC, said in words.
#[derive(Debug)]
pub struct DiskFull {
    inner: Arc<dyn Storage>,
    left: Arc<AtomicU64>,
    budget: u64,
}

impl DiskFull {
    pub fn new(inner: Arc<dyn Storage>, writes: u64) -> Self {
        DiskFull {
            inner,
            left: Arc::new(AtomicU64::new(writes)),
            budget: writes,
        }
    }
}

/// Take one write from the budget, or the ENOSPC a full disk answers.
fn spend(left: &AtomicU64, budget: u64, what: &Path) -> io::Result<()> {
    match left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)) {
        Ok(_) => Ok(()),
        Err(_) => Err(io::Error::new(
            io::ErrorKind::StorageFull,
            format!(
                "no space left on device (ENOSPC) writing {} (chaos disk_full: the disk is full after {budget} writes)",
                what.display()
            ),
        )),
    }
}

struct File {
    inner: Box<dyn StorageFile>,
    left: Arc<AtomicU64>,
    budget: u64,
    path: std::path::PathBuf,
}

impl StorageFile for File {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        spend(&self.left, self.budget, &self.path)?;
        self.inner.write_all(buf)
    }
    fn sync_data(&mut self) -> io::Result<()> {
        self.inner.sync_data()
    }
    fn set_len(&mut self, len: u64) -> io::Result<()> {
        self.inner.set_len(len)
    }
}

impl DiskFull {
    fn wrap(&self, path: &Path, f: Box<dyn StorageFile>) -> Box<dyn StorageFile> {
        Box::new(File {
            inner: f,
            left: Arc::clone(&self.left),
            budget: self.budget,
            path: path.to_path_buf(),
        })
    }
}

impl Storage for DiskFull {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        self.inner.create_dir_all(dir)
    }
    fn create_private_dir_all(&self, dir: &Path) -> io::Result<()> {
        self.inner.create_private_dir_all(dir)
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        self.inner.list(dir)
    }
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.inner.read(path)
    }
    fn read_bounded(&self, path: &Path, limit: u64) -> Result<Vec<u8>, crate::bounded::ReadError> {
        self.inner.read_bounded(path, limit)
    }
    fn exists(&self, path: &Path) -> bool {
        self.inner.exists(path)
    }
    fn len(&self, path: &Path) -> io::Result<u64> {
        self.inner.len(path)
    }
    fn create_new(&self, path: &Path) -> io::Result<Box<dyn StorageFile>> {
        spend(&self.left, self.budget, path)?;
        Ok(self.wrap(path, self.inner.create_new(path)?))
    }
    fn create_truncate(&self, path: &Path) -> io::Result<Box<dyn StorageFile>> {
        spend(&self.left, self.budget, path)?;
        Ok(self.wrap(path, self.inner.create_truncate(path)?))
    }
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn StorageFile>> {
        Ok(self.wrap(path, self.inner.open_append(path)?))
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.inner.rename(from, to)
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.inner.remove_file(path)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.inner.sync_dir(dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::SimStorage;

    #[test]
    fn writes_pass_until_the_budget_then_every_one_is_enospc() {
        let sim: Arc<dyn Storage> = Arc::new(SimStorage::new());
        let s = DiskFull::new(sim, 3);
        let p = Path::new("/d/f");
        s.create_dir_all(Path::new("/d")).unwrap();
        let mut f = s.create_new(p).unwrap();
        f.write_all(b"a").unwrap();
        f.write_all(b"b").unwrap();
        let e = f.write_all(b"c").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::StorageFull);
        assert!(e.to_string().contains("(ENOSPC) writing /d/f"), "{e}");
        assert!(s.create_new(Path::new("/d/g")).is_err());
        assert_eq!(s.read(p).unwrap(), b"ab", "reads still work");
    }
}
