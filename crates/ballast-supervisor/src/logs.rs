//! Child output captured to size-rotated files: `logs/<service>.log`, rolled to `.1`, `.2`…
//! when it reaches its size, at most `keep` old files — a bounded total per service.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;

/// A log file is never opened through a symbolic link at its name.
const NOFOLLOW: i32 = rustix::fs::OFlags::NOFOLLOW.bits() as i32;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// Where and how much.
#[derive(Debug, Clone)]
pub struct LogSpec {
    pub path: PathBuf,
    pub max_bytes: u64,
    /// Rolled files kept (`.1` … `.keep`).
    pub keep: u32,
}

pub use crate::limits::SERVICE_LOG_KEEP_COUNT as KEEP;
pub use crate::limits::SERVICE_LOG_MAX_BYTES as MAX_BYTES;

impl LogSpec {
    pub fn for_service(dir: &Path, name: &str) -> Self {
        LogSpec {
            path: dir.join(format!("{name}.log")),
            max_bytes: MAX_BYTES,
            keep: KEEP,
        }
    }

    fn rolled(&self, n: u32) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(format!(".{n}"));
        PathBuf::from(p)
    }
}

/// An appending, rotating writer.
pub struct RotatingLog {
    spec: LogSpec,
    file: File,
    size: u64,
}

impl RotatingLog {
    pub fn open(spec: LogSpec) -> io::Result<Self> {
        if let Some(dir) = spec.path.parent() {
            ballast_store::storage::create_dirs(dir, ballast_store::storage::DIR_MODE)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(ballast_store::storage::FILE_MODE)
            .custom_flags(NOFOLLOW)
            .open(&spec.path)?;
        let size = file.metadata()?.len();
        Ok(RotatingLog { spec, file, size })
    }

    fn rotate(&mut self) -> io::Result<()> {
        for n in (1..self.spec.keep).rev() {
            let from = self.spec.rolled(n);
            if from.exists() {
                std::fs::rename(&from, self.spec.rolled(n + 1))?;
            }
        }
        if self.spec.keep > 0 {
            std::fs::rename(&self.spec.path, self.spec.rolled(1))?;
        }
        self.file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .mode(ballast_store::storage::FILE_MODE)
            .custom_flags(NOFOLLOW)
            .open(&self.spec.path)?;
        self.size = 0;
        Ok(())
    }

    /// Append one whole line (a JSON log line is never split across two files): the file is
    /// rolled first when the line would take it past its size. A line longer than the size
    /// alone fills a file of its own (the caller bounds its lines).
    pub fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
        if self.size > 0 && self.size + line.len() as u64 > self.spec.max_bytes {
            self.rotate()?;
        }
        self.file.write_all(line)?;
        self.size += line.len() as u64;
        Ok(())
    }

    pub fn write_all(&mut self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            if self.size >= self.spec.max_bytes {
                self.rotate()?;
            }
            let room = (self.spec.max_bytes - self.size).max(1) as usize;
            let n = buf.len().min(room);
            self.file.write_all(&buf[..n])?;
            self.size += n as u64;
            buf = &buf[n..];
        }
        Ok(())
    }
}

/// Where output goes.
pub trait Sink {
    fn write_all(&mut self, _buf: &[u8]) -> io::Result<()> {
        Ok(())
    }
}

impl Sink for RotatingLog {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        RotatingLog::write_all(self, buf)
    }
}

/// Copy `from` (a child's stdout or stderr) into the log until it closes, control characters
/// but line breaks and tabs escaped ([`ballast_core::text::output_bytes`]). A log that cannot be
/// written does not stop the copy (the child must never block on a full pipe); the first error
/// is reported once through `on_error`.
pub fn pump(mut from: impl Read, log: &mut dyn Sink, on_error: &mut dyn FnMut(io::Error)) {
    let mut buf = [0u8; 16 * 1024];
    let mut failed = false;
    loop {
        match from.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                // A control character (a bare `\r`, NUL, an escape sequence) is written as its
                // escape: the log's lines stay the lines the child wrote.
                if let Err(e) = log.write_all(&ballast_core::text::output_bytes(&buf[..n])) {
                    if !failed {
                        failed = true;
                        on_error(e);
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_keeps_a_bounded_total() {
        let tmp = tempfile::tempdir().unwrap();
        let spec = LogSpec {
            path: tmp.path().join("svc.log"),
            max_bytes: 100,
            keep: 2,
        };
        let mut log = RotatingLog::open(spec.clone()).unwrap();
        for i in 0..50 {
            log.write_all(format!("line {i:04}\n").as_bytes()).unwrap();
        }
        let total: u64 = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap().len())
            .sum();
        assert!(total <= 300, "{total}");
        assert!(spec.rolled(2).exists() && !spec.rolled(3).exists());
        let live = std::fs::read_to_string(&spec.path).unwrap();
        assert!(live.ends_with("line 0049\n"), "{live}");
    }
}
