//! What a clear's walk must never cross or remove, whatever the names say: a mount point
//! inside the cache (a bind mount of the data directory there is on the same file system, so
//! the device alone does not show it: each entry's mount id, from `statx` with
//! `STATX_MNT_ID`, is compared with the cache root's; on a kernel without it, the device and
//! `/proc/self/mountinfo`), and a second name of a guarded path (the data directory, a
//! working directory, a declared file: met by its device and inode).

use std::cell::OnceCell;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use ballast_core::cache::{EntryKind, escaped};
use rustix::fd::OwnedFd;
use rustix::fs::{AtFlags, FileType, StatxFlags};

/// Bytes of `/proc/self/mountinfo` read at most (the fallback of a kernel without
/// `STATX_MNT_ID`): past them, every entry of the cache is taken as a possible mount point.
const MOUNTINFO_MAX_BYTES: u64 = 4 << 20;

/// An entry as `statx` sees it (without following a link or triggering an automount).
pub(crate) struct Seen {
    pub kind: EntryKind,
    pub bytes: u64,
    pub nlink: u64,
    dev: u64,
    ino: u64,
    mnt: Option<u64>,
}

fn seen(dir: &OwnedFd, name: &str) -> Option<Seen> {
    let flags = AtFlags::SYMLINK_NOFOLLOW | AtFlags::NO_AUTOMOUNT | AtFlags::EMPTY_PATH;
    let st = rustix::fs::statx(
        dir,
        name,
        flags,
        StatxFlags::BASIC_STATS | StatxFlags::MNT_ID,
    )
    .ok()?;
    let kind = match FileType::from_raw_mode(u32::from(st.stx_mode)) {
        FileType::RegularFile => EntryKind::File,
        FileType::Directory => EntryKind::Dir,
        FileType::Symlink => EntryKind::Symlink,
        _ => EntryKind::Other,
    };
    let mnt_id = StatxFlags::from_bits_retain(st.stx_mask).contains(StatxFlags::MNT_ID);
    Some(Seen {
        bytes: if kind == EntryKind::File {
            st.stx_size
        } else {
            0
        },
        kind,
        nlink: u64::from(st.stx_nlink),
        dev: rustix::fs::makedev(st.stx_dev_major, st.stx_dev_minor),
        ino: st.stx_ino,
        mnt: mnt_id.then_some(st.stx_mnt_id),
    })
}

/// The cache root's identity and the guarded paths', for one clear.
pub(crate) struct Guard {
    root: Seen,
    root_path: PathBuf,
    /// (device, inode, what) of each guarded path that exists.
    guarded: Vec<(u64, u64, String)>,
    /// The mount points of `/proc/self/mountinfo` (the fallback only; `None`: unreadable).
    mounts: OnceCell<Option<Vec<PathBuf>>>,
}

impl Guard {
    /// For the cache opened as `root` at `root_path`, keeping away from `guarded` (what,
    /// path: each compared where it resolves). `None`: the root cannot be examined.
    pub fn new(root: &OwnedFd, root_path: &Path, guarded: &[(String, PathBuf)]) -> Option<Guard> {
        let guarded = guarded
            .iter()
            .filter_map(|(what, p)| {
                let m = std::fs::metadata(p).ok()?;
                Some((m.dev(), m.ino(), what.clone()))
            })
            .collect();
        Some(Guard {
            root: seen(root, "")?,
            root_path: root_path.to_owned(),
            guarded,
            mounts: OnceCell::new(),
        })
    }

    /// `name` in `dir` (at `below`, the names from the cache down to `dir`), and why it must
    /// stay if it must: a mount point, or a guarded path under another name. `None`: it
    /// cannot be examined (it is then left, uncounted by kind).
    pub fn look(
        &self,
        dir: &OwnedFd,
        below: &[String],
        name: &str,
    ) -> Option<(Seen, Option<String>)> {
        let s = seen(dir, name)?;
        let why = if let Some((_, _, what)) = self
            .guarded
            .iter()
            .find(|(d, i, _)| (*d, *i) == (s.dev, s.ino))
        {
            Some(format!(
                "it is {what} under another name: a clear never removes it"
            ))
        } else if self.mount_point(&s, below, name) {
            Some(
                "a mount point: a clear never crosses into another mount (unmount it, or declare its own cache)"
                    .to_owned(),
            )
        } else {
            None
        };
        Some((s, why))
    }

    fn mount_point(&self, s: &Seen, below: &[String], name: &str) -> bool {
        if let (Some(m), Some(root)) = (s.mnt, self.root.mnt) {
            return m != root;
        }
        if s.dev != self.root.dev {
            return true;
        }
        let mut at = self.root_path.clone();
        at.extend(below);
        at.push(name);
        match self.mounts.get_or_init(mountinfo) {
            Some(points) => points.contains(&at),
            // Nothing says it is not one: a directory is taken as one (left), a file is not.
            None => s.kind == EntryKind::Dir,
        }
    }
}

/// The mount points of `/proc/self/mountinfo` (field 5, octal escapes decoded), bounded.
fn mountinfo() -> Option<Vec<PathBuf>> {
    let mut text = String::new();
    std::fs::File::open("/proc/self/mountinfo")
        .ok()?
        .take(MOUNTINFO_MAX_BYTES + 1)
        .read_to_string(&mut text)
        .ok()?;
    if text.len() as u64 > MOUNTINFO_MAX_BYTES {
        return None;
    }
    Some(
        text.lines()
            .filter_map(|l| l.split(' ').nth(4))
            .map(|p| PathBuf::from(unescape_octal(p)))
            .collect(),
    )
}

/// `\040` and the like (how mountinfo writes a space, a tab, a newline, a backslash).
fn unescape_octal(p: &str) -> std::ffi::OsString {
    use std::os::unix::ffi::OsStringExt;
    let b = p.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let oct = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)))
            .and_then(|d| {
                let v = d.iter().fold(0u32, |v, c| v * 8 + u32::from(c - b'0'));
                u8::try_from(v).ok()
            });
        match (b[i], oct) {
            (b'\\', Some(v)) => {
                out.push(v);
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    std::ffi::OsString::from_vec(out)
}

/// A name from the directory listing, as shown: escaped (see [`escaped`]).
pub(crate) fn shown_name(name: &std::ffi::CStr) -> String {
    escaped(name.to_bytes())
}
