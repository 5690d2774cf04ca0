//! Whether a configuration file as read may be applied at all (pure: the shell measures, this
//! decides). A reload never applies a file that changed while it was read (an editor or `cp`
//! truncating and writing in place: the half written is often valid TOML), nor an empty one
//! (zero bytes, or only blanks and comments, validates as "no services" — applied, it would
//! stop every one).

/// What identifies a file's content without reading it: its size, times, inode and device.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileStamp {
    pub len: u64,
    /// Modification time, nanoseconds since the epoch.
    pub modified_ns: i128,
    /// Status-change time, nanoseconds since the epoch (a write that keeps the size and the
    /// modification time still moves it).
    pub changed_ns: i128,
    pub inode: u64,
    pub device: u64,
}

/// How the file was read: its stamp just before and just after the read, and whether what was
/// read is blank. The built-in configuration (no file) has no stamps and is never blank.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileRead {
    pub before: Option<FileStamp>,
    pub after: Option<FileStamp>,
    pub blank: bool,
}

/// The words of a file that changed while it was read.
pub const CHANGED_WHILE_READ: &str =
    "the file changed while it was read; run `ballast reload` again";
/// The words of an empty file.
pub const EMPTY_FILE: &str = "the file is empty (nothing but blanks and comments): a reload never applies an empty configuration; put the configuration back and run `ballast reload` again";

/// `text` holds nothing but blank lines and `#` comments.
pub fn is_blank(text: &str) -> bool {
    text.lines().all(|l| {
        let l = l.trim();
        l.is_empty() || l.starts_with('#')
    })
}

/// Why the file as read must not be applied, if it must not.
pub fn refusal(read: &FileRead) -> Option<&'static str> {
    if read.before != read.after {
        return Some(CHANGED_WHILE_READ);
    }
    read.blank.then_some(EMPTY_FILE)
}
