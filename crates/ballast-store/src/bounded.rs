//! Reading a whole file that Ballast does not control the size or kind of: the
//! configuration, declared artifacts, the policy, health and heartbeat files, the kill
//! switch. Only a regular file is read (a FIFO would block, a device would never end), and
//! only up to [`MAX_FILE_BYTES`] (CSV market data is streamed instead and is not read here).

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

pub use ballast_core::limits::MAX_FILE_BYTES;

/// Why a file was not read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{} does not exist", path.display())]
    NotFound { path: PathBuf },
    #[error(
        "{} is {kind}, not a regular file: Ballast reads only regular files here (a FIFO would block it, a device never ends); point it at a regular file",
        path.display()
    )]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error(
        "{} is {size} bytes, over the limit of {limit} bytes ({} KiB) for a file Ballast reads whole; make it smaller or point at the right file",
        path.display(),
        limit / 1024
    )]
    TooLarge {
        path: PathBuf,
        /// Its size (at least this, for a file that grew while it was read).
        size: u64,
        limit: u64,
    },
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl ReadError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, ReadError::NotFound { .. })
    }
}

/// The bytes of the regular file `path` (a symbolic link to one is followed), at most
/// `limit` of them.
pub fn read_regular(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    read(path, limit, true)
}

/// As [`read_regular`], for Ballast's own files: a symbolic link is refused, not followed.
pub fn read_own(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    read(path, limit, false)
}

/// [`read_regular`] as text (invalid UTF-8 replaced).
pub fn read_regular_string(path: &Path, limit: u64) -> Result<String, ReadError> {
    read_regular(path, limit).map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// [`read_own`] as text (invalid UTF-8 replaced).
pub fn read_own_string(path: &Path, limit: u64) -> Result<String, ReadError> {
    read_own(path, limit).map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// `path` opened for reading if it is a regular file (a link to one is followed), without
/// blocking on a FIFO.
pub fn open_regular(path: &Path) -> Result<File, ReadError> {
    open(path, true).map(|(f, _)| f)
}

fn read(path: &Path, limit: u64, follow: bool) -> Result<Vec<u8>, ReadError> {
    let (f, len) = open(path, follow)?;
    let too_large = |size| ReadError::TooLarge {
        path: path.to_path_buf(),
        size,
        limit,
    };
    if len > limit {
        return Err(too_large(len));
    }
    let mut buf = Vec::with_capacity(len as usize);
    (&f).take(limit + 1)
        .read_to_end(&mut buf)
        .map_err(|source| ReadError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    if buf.len() as u64 > limit {
        return Err(too_large(buf.len() as u64));
    }
    Ok(buf)
}

/// The open regular file and its length.
fn open(path: &Path, follow: bool) -> Result<(File, u64), ReadError> {
    let io_err = |source: io::Error| match source.kind() {
        io::ErrorKind::NotFound => ReadError::NotFound {
            path: path.to_path_buf(),
        },
        _ => ReadError::Io {
            path: path.to_path_buf(),
            source,
        },
    };
    // Non-blocking: opening a FIFO without a writer returns at once instead of waiting.
    let mut flags = rustix::fs::OFlags::NONBLOCK;
    if !follow {
        flags |= rustix::fs::OFlags::NOFOLLOW;
    }
    let f: File = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags.bits() as i32)
        .open(path)
        .map_err(|e| {
            if !follow && rustix::io::Errno::from_io_error(&e) == Some(rustix::io::Errno::LOOP) {
                ReadError::NotRegular {
                    path: path.to_path_buf(),
                    kind: "a symbolic link",
                }
            } else {
                io_err(e)
            }
        })?;
    let meta = f.metadata().map_err(io_err)?;
    let kind = meta.file_type();
    if !kind.is_file() {
        return Err(ReadError::NotRegular {
            path: path.to_path_buf(),
            kind: kind_word(kind),
        });
    }
    Ok((f, meta.len()))
}

fn kind_word(t: std::fs::FileType) -> &'static str {
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_symlink() {
        "a symbolic link"
    } else {
        "not a regular file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_fifos_links_and_large_files_are_refused_regular_files_read() {
        let tmp = tempfile::tempdir().unwrap();
        let small = tmp.path().join("small");
        std::fs::write(&small, b"hello").unwrap();
        assert_eq!(read_regular(&small, 5).unwrap(), b"hello");
        assert!(matches!(
            read_regular(&small, 4),
            Err(ReadError::TooLarge {
                size: 5,
                limit: 4,
                ..
            })
        ));
        assert!(matches!(
            read_regular(Path::new("/dev/zero"), MAX_FILE_BYTES),
            Err(ReadError::NotRegular { .. })
        ));
        assert!(matches!(
            read_regular(tmp.path(), MAX_FILE_BYTES),
            Err(ReadError::NotRegular {
                kind: "a directory",
                ..
            })
        ));
        let fifo = tmp.path().join("fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let e = read_regular(&fifo, MAX_FILE_BYTES).unwrap_err();
        assert!(e.to_string().contains("FIFO"), "{e}");
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&small, &link).unwrap();
        assert_eq!(read_regular(&link, 5).unwrap(), b"hello");
        let e = read_own(&link, 5).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert!(
            read_regular(&tmp.path().join("missing"), 5)
                .unwrap_err()
                .is_not_found()
        );
    }
}
