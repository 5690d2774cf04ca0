//! The narrow file-system interface every durable write of Ballast goes through.
//!
//! Production uses [`RealStorage`] (std::fs; `sync_data` is `fdatasync`, `sync_dir` fsyncs
//! the directory). Tests substitute [`crate::sim::SimStorage`], which models what survives a
//! crash and injects faults — so the crash harness checks the very code that runs in
//! production.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;

/// Files Ballast writes are never opened through a symbolic link at their own name (a link
/// there fails with ELOOP; `create_new` never follows one either).
const NOFOLLOW: i32 = rustix::fs::OFlags::NOFOLLOW.bits() as i32;
use std::io::{self, Write};
use std::path::Path;

/// A file open for writing.
pub trait StorageFile: Send {
    /// Append `buf` at the end of the file.
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()>;
    /// Make the written data durable (`fdatasync`).
    fn sync_data(&mut self) -> io::Result<()>;
    /// Truncate (or extend with zeros) to `len` bytes.
    fn set_len(&mut self, len: u64) -> io::Result<()>;
}

/// The file-system operations Ballast's storage needs, and nothing more.
pub trait Storage: Send + Sync + fmt::Debug {
    /// Create `dir` and its parents ([`DIR_MODE`] on a real file system, whatever the umask).
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// Create `dir` and its parents, readable by the owner only ([`PRIVATE_DIR_MODE`]).
    fn create_private_dir_all(&self, dir: &Path) -> io::Result<()> {
        self.create_dir_all(dir)
    }
    /// Names of the regular files in `dir`, sorted.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// The whole content of `path`.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// The whole content of `path` if it is at most `limit` bytes (a regular file, never
    /// through a link at its name): the bounded read of every file two processes share
    /// ([`crate::files`]).
    fn read_bounded(&self, path: &Path, limit: u64) -> Result<Vec<u8>, crate::bounded::ReadError> {
        use crate::bounded::ReadError;
        let bytes = self.read(path).map_err(|source| {
            if source.kind() == io::ErrorKind::NotFound {
                ReadError::NotFound {
                    path: path.to_path_buf(),
                }
            } else {
                ReadError::Io {
                    path: path.to_path_buf(),
                    source,
                }
            }
        })?;
        if bytes.len() as u64 > limit {
            return Err(ReadError::TooLarge {
                path: path.to_path_buf(),
                size: bytes.len() as u64,
                limit,
            });
        }
        Ok(bytes)
    }
    /// Whether `path` exists.
    fn exists(&self, path: &Path) -> bool;
    /// The length of the file `path` (not through a link at its name).
    fn len(&self, path: &Path) -> io::Result<u64> {
        self.read(path).map(|b| b.len() as u64)
    }
    /// Create `path`, failing if it exists.
    fn create_new(&self, path: &Path) -> io::Result<Box<dyn StorageFile>>;
    /// Create `path`, truncating it if it exists.
    fn create_truncate(&self, path: &Path) -> io::Result<Box<dyn StorageFile>>;
    /// Open an existing file; writes append at its end.
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn StorageFile>>;
    /// Atomically rename `from` to `to`, replacing `to`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Remove a file.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Make the directory's entries (creations, renames, removals) durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
}

const NONBLOCK: i32 = rustix::fs::OFlags::NONBLOCK.bits() as i32;

/// A FIFO without a reader (ENXIO) or a link at the name (ELOOP) said as what it is.
fn not_regular(e: io::Error, path: &Path) -> io::Error {
    let errno = rustix::io::Errno::from_io_error(&e);
    let what = if errno == Some(rustix::io::Errno::NXIO) {
        "a FIFO or a device"
    } else if errno == Some(rustix::io::Errno::LOOP) {
        "a symbolic link"
    } else {
        return e;
    };
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "{} is {what}, not a regular file: Ballast writes only its own regular files, never through a link; move it away",
            path.display()
        ),
    )
}

/// `f` if it is a regular file: Ballast writes its own files only (a FIFO or a device put in
/// the place of a journal segment is refused, never written to or waited on).
fn regular(f: File, path: &Path) -> io::Result<File> {
    if f.metadata()?.is_file() {
        Ok(f)
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} is not a regular file (a FIFO, a device or a directory in its place): Ballast writes only its own regular files; move it away",
                path.display()
            ),
        ))
    }
}

/// The real file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealStorage;

struct RealFile(File);

impl StorageFile for RealFile {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.0.write_all(buf)
    }
    fn sync_data(&mut self) -> io::Result<()> {
        self.0.sync_data()
    }
    fn set_len(&mut self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }
}

/// The mode of the directories Ballast creates: the umask can only take bits away from a mode
/// given at creation, so a umask of 000 never leaves them world-writable. The mode of a
/// directory that exists already is left as the operator set it.
pub const DIR_MODE: u32 = 0o750;
/// The mode of `run/` (the control socket, locks, notify sockets): the owner only.
pub const PRIVATE_DIR_MODE: u32 = 0o700;
/// The mode every file Ballast creates in its data directory gets (journals, snapshots, state,
/// logs, locks, the heartbeat), given at creation so that no umask (not even 000) leaves one
/// readable or writable by others.
pub const FILE_MODE: u32 = 0o600;

/// The permission bits of the directory `dir` (a link to it followed) when its group or others
/// may write it: a data directory like that lets another user change what Ballast trusts.
pub fn open_to_others(dir: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(dir).ok()?.permissions().mode();
    (mode & 0o022 != 0).then_some(mode & 0o7777)
}

/// Create `dir` and every missing parent with `mode`.
pub fn create_dirs(dir: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new().recursive(true).mode(mode).create(dir)
}

impl Storage for RealStorage {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        create_dirs(dir, DIR_MODE)
    }

    fn create_private_dir_all(&self, dir: &Path) -> io::Result<()> {
        create_dirs(dir, PRIVATE_DIR_MODE)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            // Everything but directories: a link, a FIFO or a device put where a file of
            // Ballast belongs is listed, so reading it is refused by name (not skipped).
            if !entry.file_type()?.is_dir() {
                if let Some(name) = entry.file_name().to_str() {
                    names.push(name.to_owned());
                }
            }
        }
        names.sort();
        Ok(names)
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        // Ballast's own files only: a regular file, not through a link at its name, never
        // blocking on a FIFO nor reading a device without end (a regular file is finite).
        crate::bounded::read_own(path, u64::MAX / 2).map_err(|e| match e {
            crate::bounded::ReadError::NotFound { .. } => {
                io::Error::new(io::ErrorKind::NotFound, e.to_string())
            }
            crate::bounded::ReadError::Io { source, .. } => source,
            other => io::Error::new(io::ErrorKind::InvalidInput, other.to_string()),
        })
    }

    fn read_bounded(&self, path: &Path, limit: u64) -> Result<Vec<u8>, crate::bounded::ReadError> {
        crate::bounded::read_own(path, limit)
    }

    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }

    fn len(&self, path: &Path) -> io::Result<u64> {
        fs::symlink_metadata(path).map(|m| m.len())
    }

    fn create_new(&self, path: &Path) -> io::Result<Box<dyn StorageFile>> {
        let f = OpenOptions::new()
            .append(true)
            .create_new(true)
            .mode(FILE_MODE)
            .open(path)?;
        Ok(Box::new(RealFile(f)))
    }

    fn create_truncate(&self, path: &Path) -> io::Result<Box<dyn StorageFile>> {
        // Non-blocking open: a FIFO put in a file's place fails at once instead of waiting
        // for a reader (and is refused below); a regular file is unaffected.
        let f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(FILE_MODE)
            .custom_flags(NOFOLLOW | NONBLOCK)
            .open(path)
            .map_err(|e| not_regular(e, path))?;
        Ok(Box::new(RealFile(regular(f, path)?)))
    }

    fn open_append(&self, path: &Path) -> io::Result<Box<dyn StorageFile>> {
        let f = OpenOptions::new()
            .append(true)
            .custom_flags(NOFOLLOW | NONBLOCK)
            .open(path)
            .map_err(|e| not_regular(e, path))?;
        Ok(Box::new(RealFile(regular(f, path)?)))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }
}
