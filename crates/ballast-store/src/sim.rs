//! A simulated file system for crash-consistency and fault-injection tests.
//!
//! It keeps, for every file, the bytes written so far and the bytes known durable (as of
//! its last `sync_data`), and for every directory the entries written so far and the entries
//! known durable (as of its last `sync_dir`). Every operation is logged; replaying a prefix of
//! the log with [`SimFs::apply`] and asking [`SimFs::crash_images`] yields the states a
//! machine could wake up in after a power cut at that point:
//!
//! - only synced data and synced directory entries;
//! - unsynced data torn at every 512-byte boundary;
//! - unsynced data replaced by zeros (the file grew, its blocks were never written);
//! - renames and creations that reached the directory while their data did not
//!   ("rename without its data");
//! - everything written (a clean stop).
//!
//! Directories themselves are treated as durable once created.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::storage::{Storage, StorageFile};

/// `ENOSPC` on Linux.
pub const ENOSPC: i32 = 28;
/// `EIO` on Linux.
pub const EIO: i32 = 5;

/// One logged operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    CreateDir(PathBuf),
    Create {
        path: PathBuf,
        inode: usize,
    },
    Write {
        inode: usize,
        bytes: Vec<u8>,
    },
    Sync {
        inode: usize,
    },
    SetLen {
        inode: usize,
        len: u64,
    },
    Rename {
        from: PathBuf,
        to: PathBuf,
    },
    Remove {
        path: PathBuf,
    },
    SyncDir {
        dir: PathBuf,
    },
    /// A marker the test puts in the log (e.g. "seq N was acknowledged here").
    Mark(u64),
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
struct Inode {
    data: Vec<u8>,
    durable: Vec<u8>,
}

/// The modelled state of the file system.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct SimFs {
    inodes: Vec<Inode>,
    entries: BTreeMap<PathBuf, usize>,
    durable_entries: BTreeMap<PathBuf, usize>,
    dirs: BTreeSet<PathBuf>,
}

impl SimFs {
    /// Apply one logged operation.
    pub fn apply(&mut self, op: &Op) {
        match op {
            Op::CreateDir(dir) => {
                for a in dir.ancestors() {
                    if !a.as_os_str().is_empty() {
                        self.dirs.insert(a.to_path_buf());
                    }
                }
            }
            Op::Create { path, inode } => {
                if *inode >= self.inodes.len() {
                    self.inodes.resize(*inode + 1, Inode::default());
                }
                self.entries.insert(path.clone(), *inode);
            }
            Op::Write { inode, bytes } => {
                if let Some(i) = self.inodes.get_mut(*inode) {
                    i.data.extend_from_slice(bytes);
                }
            }
            Op::Sync { inode } => {
                if let Some(i) = self.inodes.get_mut(*inode) {
                    i.durable = i.data.clone();
                }
            }
            Op::SetLen { inode, len } => {
                if let Some(i) = self.inodes.get_mut(*inode) {
                    i.data
                        .resize(usize::try_from(*len).unwrap_or(usize::MAX), 0);
                }
            }
            Op::Rename { from, to } => {
                if let Some(ino) = self.entries.remove(from) {
                    self.entries.insert(to.clone(), ino);
                }
            }
            Op::Remove { path } => {
                self.entries.remove(path);
            }
            Op::SyncDir { dir } => {
                let in_dir = |p: &PathBuf| p.parent() == Some(dir.as_path());
                self.durable_entries.retain(|p, _| !in_dir(p));
                for (p, ino) in &self.entries {
                    if in_dir(p) {
                        self.durable_entries.insert(p.clone(), *ino);
                    }
                }
            }
            Op::Mark(_) => {}
        }
    }

    /// The states a crash right now could leave behind, each with a label.
    pub fn crash_images(&self) -> Vec<(String, SimFs)> {
        let mut out = Vec::new();
        let entry_sets = [
            ("synced entries", &self.durable_entries),
            ("all entries", &self.entries),
        ];
        for (label, entries) in entry_sets {
            if label == "all entries" && self.entries == self.durable_entries {
                continue;
            }
            out.push((
                format!("{label}, synced data"),
                self.image(entries, &|_, i| i.durable.clone()),
            ));
            out.push((
                format!("{label}, all data"),
                self.image(entries, &|_, i| i.data.clone()),
            ));
            for (id, ino) in self.inodes.iter().enumerate() {
                let d = ino.durable.len();
                if ino.data.len() <= d || ino.data[..d] != ino.durable[..] {
                    continue; // only appended-but-unsynced data can be torn
                }
                let mut zeroed = ino.durable.clone();
                zeroed.resize(ino.data.len(), 0);
                out.push((
                    format!("{label}, inode {id} unsynced tail zero-filled"),
                    self.image(entries, &|j, i| {
                        if j == id {
                            zeroed.clone()
                        } else {
                            i.durable.clone()
                        }
                    }),
                ));
                let mut cut = (d / 512 + 1) * 512;
                while cut < ino.data.len() {
                    let torn = ino.data[..cut].to_vec();
                    out.push((
                        format!("{label}, inode {id} torn at byte {cut}"),
                        self.image(entries, &|j, i| {
                            if j == id {
                                torn.clone()
                            } else {
                                i.durable.clone()
                            }
                        }),
                    ));
                    cut += 512;
                }
            }
        }
        out
    }

    fn image(
        &self,
        entries: &BTreeMap<PathBuf, usize>,
        content: &dyn Fn(usize, &Inode) -> Vec<u8>,
    ) -> SimFs {
        let inodes = self
            .inodes
            .iter()
            .enumerate()
            .map(|(j, i)| {
                let data = content(j, i);
                Inode {
                    durable: data.clone(),
                    data,
                }
            })
            .collect();
        SimFs {
            inodes,
            entries: entries.clone(),
            durable_entries: entries.clone(),
            dirs: self.dirs.clone(),
        }
    }

    /// Content of `path` as currently visible.
    pub fn content(&self, path: &Path) -> Option<&[u8]> {
        let ino = self.entries.get(path)?;
        self.inodes.get(*ino).map(|i| i.data.as_slice())
    }
}

/// Which operation a fault hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultOp {
    Create,
    Write,
    Sync,
    Rename,
    SyncDir,
}

/// A fault to inject: the `skip + 1`-th matching operation fails with `errno`.
#[derive(Debug, Clone)]
pub struct Fault {
    pub op: FaultOp,
    pub skip: usize,
    pub errno: i32,
    /// Only operations on a path containing this text match.
    pub path_contains: Option<String>,
    /// A failing write first writes half of its buffer (a short write before ENOSPC).
    pub partial_write: bool,
}

#[derive(Debug, Default)]
struct Inner {
    fs: SimFs,
    log: Vec<Op>,
    faults: Vec<Fault>,
    paths: BTreeMap<usize, PathBuf>,
}

impl Inner {
    fn record(&mut self, op: Op) {
        self.fs.apply(&op);
        self.log.push(op);
    }

    fn fault(&mut self, op: FaultOp, path: &Path) -> Option<Fault> {
        let path = path.to_string_lossy();
        let idx = self.faults.iter().position(|f| {
            f.op == op
                && f.path_contains
                    .as_ref()
                    .is_none_or(|p| path.contains(p.as_str()))
        })?;
        if self.faults[idx].skip > 0 {
            self.faults[idx].skip -= 1;
            return None;
        }
        Some(self.faults.remove(idx))
    }

    fn path_of(&self, inode: usize) -> PathBuf {
        self.paths.get(&inode).cloned().unwrap_or_default()
    }
}

/// The simulated storage. Cloning shares the same file system.
#[derive(Debug, Clone, Default)]
pub struct SimStorage {
    inner: Arc<Mutex<Inner>>,
}

fn lock(inner: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    // A panic while holding the lock only happens in a failing test; keep going.
    inner
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{} not found", path.display()),
    )
}

impl SimStorage {
    pub fn new() -> Self {
        Self::default()
    }

    /// A storage whose state is `fs` (e.g. a crash image), with an empty log.
    pub fn from_fs(fs: SimFs) -> Self {
        let paths = fs.entries.iter().map(|(p, i)| (*i, p.clone())).collect();
        SimStorage {
            inner: Arc::new(Mutex::new(Inner {
                fs,
                paths,
                ..Inner::default()
            })),
        }
    }

    /// The operations performed so far.
    pub fn log(&self) -> Vec<Op> {
        lock(&self.inner).log.clone()
    }

    /// Put a marker into the log.
    pub fn mark(&self, value: u64) {
        lock(&self.inner).log.push(Op::Mark(value));
    }

    /// Arm a fault.
    pub fn inject(&self, fault: Fault) {
        lock(&self.inner).faults.push(fault);
    }

    /// The current file-system state.
    pub fn fs(&self) -> SimFs {
        lock(&self.inner).fs.clone()
    }

    /// Overwrite byte `offset` of `path` (for corruption tests), without logging.
    pub fn corrupt(&self, path: &Path, offset: usize, byte: u8) -> bool {
        let mut g = lock(&self.inner);
        let Some(&ino) = g.fs.entries.get(path) else {
            return false;
        };
        let i = &mut g.fs.inodes[ino];
        if offset >= i.data.len() {
            return false;
        }
        i.data[offset] = byte;
        i.durable = i.data.clone();
        true
    }
}

struct SimFile {
    inode: usize,
    inner: Arc<Mutex<Inner>>,
}

impl StorageFile for SimFile {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        let mut g = lock(&self.inner);
        let path = g.path_of(self.inode);
        if let Some(f) = g.fault(FaultOp::Write, &path) {
            if f.partial_write {
                g.record(Op::Write {
                    inode: self.inode,
                    bytes: buf[..buf.len() / 2].to_vec(),
                });
            }
            return Err(io::Error::from_raw_os_error(f.errno));
        }
        g.record(Op::Write {
            inode: self.inode,
            bytes: buf.to_vec(),
        });
        Ok(())
    }

    fn sync_data(&mut self) -> io::Result<()> {
        let mut g = lock(&self.inner);
        let path = g.path_of(self.inode);
        if let Some(f) = g.fault(FaultOp::Sync, &path) {
            return Err(io::Error::from_raw_os_error(f.errno));
        }
        g.record(Op::Sync { inode: self.inode });
        Ok(())
    }

    fn set_len(&mut self, len: u64) -> io::Result<()> {
        lock(&self.inner).record(Op::SetLen {
            inode: self.inode,
            len,
        });
        Ok(())
    }
}

impl SimStorage {
    fn create(&self, path: &Path, exclusive: bool) -> io::Result<Box<dyn StorageFile>> {
        let mut g = lock(&self.inner);
        if let Some(f) = g.fault(FaultOp::Create, path) {
            return Err(io::Error::from_raw_os_error(f.errno));
        }
        let parent = path.parent().unwrap_or(Path::new(""));
        if !g.fs.dirs.contains(parent) {
            return Err(not_found(parent));
        }
        let inode = match g.fs.entries.get(path) {
            Some(_) if exclusive => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} exists", path.display()),
                ));
            }
            Some(&ino) => {
                g.record(Op::SetLen { inode: ino, len: 0 });
                ino
            }
            None => {
                let ino = g.fs.inodes.len();
                g.record(Op::Create {
                    path: path.to_path_buf(),
                    inode: ino,
                });
                ino
            }
        };
        g.paths.insert(inode, path.to_path_buf());
        Ok(Box::new(SimFile {
            inode,
            inner: Arc::clone(&self.inner),
        }))
    }
}

impl Storage for SimStorage {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        lock(&self.inner).record(Op::CreateDir(dir.to_path_buf()));
        Ok(())
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let g = lock(&self.inner);
        if !g.fs.dirs.contains(dir) {
            return Err(not_found(dir));
        }
        Ok(g.fs
            .entries
            .keys()
            .filter(|p| p.parent() == Some(dir))
            .filter_map(|p| p.file_name().and_then(|n| n.to_str()).map(str::to_owned))
            .collect())
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let g = lock(&self.inner);
        g.fs.content(path)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| not_found(path))
    }

    fn exists(&self, path: &Path) -> bool {
        let g = lock(&self.inner);
        g.fs.entries.contains_key(path) || g.fs.dirs.contains(path)
    }

    fn create_new(&self, path: &Path) -> io::Result<Box<dyn StorageFile>> {
        self.create(path, true)
    }

    fn create_truncate(&self, path: &Path) -> io::Result<Box<dyn StorageFile>> {
        self.create(path, false)
    }

    fn open_append(&self, path: &Path) -> io::Result<Box<dyn StorageFile>> {
        let g = lock(&self.inner);
        let inode = *g.fs.entries.get(path).ok_or_else(|| not_found(path))?;
        Ok(Box::new(SimFile {
            inode,
            inner: Arc::clone(&self.inner),
        }))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut g = lock(&self.inner);
        if let Some(f) = g.fault(FaultOp::Rename, from) {
            return Err(io::Error::from_raw_os_error(f.errno));
        }
        let Some(&ino) = g.fs.entries.get(from) else {
            return Err(not_found(from));
        };
        g.record(Op::Rename {
            from: from.to_path_buf(),
            to: to.to_path_buf(),
        });
        g.paths.insert(ino, to.to_path_buf());
        Ok(())
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        let mut g = lock(&self.inner);
        if !g.fs.entries.contains_key(path) {
            return Err(not_found(path));
        }
        g.record(Op::Remove {
            path: path.to_path_buf(),
        });
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut g = lock(&self.inner);
        if let Some(f) = g.fault(FaultOp::SyncDir, dir) {
            return Err(io::Error::from_raw_os_error(f.errno));
        }
        g.record(Op::SyncDir {
            dir: dir.to_path_buf(),
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsynced_data_and_entries_are_lost_in_the_synced_image() {
        let s = SimStorage::new();
        let dir = Path::new("/d");
        s.create_dir_all(dir).unwrap();
        let mut f = s.create_new(&dir.join("a")).unwrap();
        f.write_all(b"hello").unwrap();
        f.sync_data().unwrap();
        f.write_all(&[b'x'; 1200]).unwrap();
        let images = s.fs().crash_images();
        let (_, synced) = &images[0];
        assert_eq!(
            synced.content(&dir.join("a")),
            None,
            "entry never dir-synced"
        );
        s.sync_dir(dir).unwrap();
        let images = s.fs().crash_images();
        let get = |label: &str| {
            images
                .iter()
                .find(|(l, _)| l.contains(label))
                .map(|(_, fs)| fs.content(&dir.join("a")).unwrap().to_vec())
                .unwrap()
        };
        assert_eq!(get("synced data"), b"hello");
        assert_eq!(get("all data").len(), 1205);
        assert_eq!(get("torn at byte 512").len(), 512);
        let zeroed = get("zero-filled");
        assert_eq!(&zeroed[..5], b"hello");
        assert!(zeroed[5..].iter().all(|b| *b == 0));
    }

    #[test]
    fn faults_fire_once_on_the_chosen_operation() {
        let s = SimStorage::new();
        s.create_dir_all(Path::new("/d")).unwrap();
        s.inject(Fault {
            op: FaultOp::Sync,
            skip: 1,
            errno: EIO,
            path_contains: None,
            partial_write: false,
        });
        let mut f = s.create_new(Path::new("/d/a")).unwrap();
        f.sync_data().unwrap();
        let e = f.sync_data().unwrap_err();
        assert_eq!(e.raw_os_error(), Some(EIO));
        f.sync_data().unwrap();
    }
}
