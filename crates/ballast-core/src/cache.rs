//! Clearing a declared cache (`[[artifacts]] kind = "cache"`, SPEC §5 `clear_cache`), decided
//! purely: whether a directory may be cleared at all ([`refusal`]), and what to remove from a
//! listing of it ([`plan`]). The shell lists the directory without following a symbolic link
//! (a link inside is an entry of its own, removed as a link), removes what the plan says, one
//! entry at a time under the cache's directory, and reports what it removed ([`Cleared`]).
//!
//! This is the one place Ballast deletes a user's files, and only by declaration: the
//! contents of a directory the configuration declares disposable, never the directory itself,
//! at most `max_clear_entries` entries per chunk of a clear (a clear goes on chunk after
//! chunk: [`Cleared::decide_next`]).

use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Failures a [`Cleared`] names one by one (the rest are counted).
pub const FAILURES_NAMED_COUNT: usize = 10;

/// Chunks one clear goes on for at most (each of at most `max_clear_entries` entries): a
/// service writing into its cache as fast as it is cleared must not keep the loop clearing.
pub const MAX_CLEAR_CHUNKS: u32 = 1_000;

/// Entries a walk counts past what it lists (what is left is said exactly up to this many
/// more, "at least" beyond). Counting costs about 0.1 µs an entry (no `stat`): 20 000 keep
/// it to a few milliseconds of a loop turn, beside the chunk's own at most 2000 removals.
pub const MAX_LEFT_COUNTED: u64 = 20_000;

/// Directory levels below a cache's directory that a clear descends (deeper ones are left and
/// said so).
pub const MAX_CLEAR_DEPTH: usize = 32;

/// What an entry of the listing is (as `lstat` sees it: a symbolic link is a link, whatever
/// it points to).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
    /// A socket, a FIFO, a device node: removed as the name it is.
    Other,
}

/// One entry of a cache directory: its path below the directory, one name per level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub path: Vec<String>,
    pub kind: EntryKind,
    /// Its size (a file's; 0 for the others).
    pub bytes: u64,
    /// Its hard links (`st_nlink`): a file's bytes are freed by its removal only at 1.
    pub nlink: u64,
}

impl Entry {
    /// The path below the cache directory, as shown (`a/b.bin`), each name [`escaped`].
    pub fn shown(&self) -> String {
        let names: Vec<String> = self.path.iter().map(|n| escaped(n.as_bytes())).collect();
        names.join("/")
    }
}

/// A name or path from the file system as shown in a message, a log line or a journal
/// record: control characters escaped (`\n`, `\t`, `\u{1b}`), a backslash doubled and a
/// byte that is not UTF-8 written `\xe9`, so a file name can never forge a line or hide
/// what it is.
pub fn escaped(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                c if c.is_control() => out.extend(c.escape_default()),
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// A path as shown: [`escaped`].
pub fn escaped_path(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    escaped(path.as_os_str().as_bytes())
}

/// A listing of a cache directory, in post-order: a directory comes after everything in it,
/// and only once everything in it was listed (so any prefix of the listing can be removed in
/// order). The walk lists at most `max_clear_entries` entries and counts the rest (what it
/// did not list, and the directories holding them), up to [`MAX_LEFT_COUNTED`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    pub entries: Vec<Entry>,
    /// Entries seen but not listed (past the bound): they stay, counted.
    pub beyond: u64,
    /// The count stopped at [`MAX_LEFT_COUNTED`]: more than counted may stay.
    pub truncated: bool,
    /// Entries that stay, each named with why (a mount point, a guarded path under another
    /// name, a name that is not UTF-8): counted in what is left, exactly.
    pub kept: Vec<String>,
    /// What the walk could not list, with why (`deep/…: deeper than 32 levels`, an
    /// unreadable directory).
    pub unlisted: Vec<String>,
}

/// What to remove, in order, and what is left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub remove: Vec<Entry>,
    /// Entries that stay (listed and kept, or counted past the bound): exactly this many,
    /// or at least this many if `more`.
    pub left: u64,
    /// The walk did not see everything (the count's bound, an unlisted directory): more than
    /// `left` may stay.
    pub more: bool,
    /// Entries of the listing refused as malformed (a name that is empty, `.`, `..` or holds
    /// a `/`): never removed.
    pub refused: Vec<String>,
}

/// Why an entry's name is not one a clear may act on, if it is not.
fn bad_name(name: &str) -> bool {
    name.is_empty() || name == "." || name == ".." || name.contains('/') || name.contains('\0')
}

/// The plan for `listing` with at most `max_entries` removals: the listing's order (children
/// before their directory), malformed names refused, a directory only when everything listed
/// under it is removed too.
pub fn plan(listing: &Listing, max_entries: usize) -> Plan {
    let mut remove: Vec<Entry> = Vec::new();
    let mut refused = Vec::new();
    let mut kept: Vec<&[String]> = Vec::new();
    let mut left = 0;
    for e in &listing.entries {
        if e.path.is_empty() || e.path.iter().any(|n| bad_name(n)) {
            refused.push(e.shown());
            kept.push(&e.path);
            left += 1u64;
            continue;
        }
        // A directory with anything kept under it stays (its removal would fail).
        let holds_kept = e.kind == EntryKind::Dir
            && kept
                .iter()
                .any(|k| k.len() > e.path.len() && k.starts_with(&e.path));
        if remove.len() >= max_entries || holds_kept {
            left += 1u64;
            kept.push(&e.path);
            continue;
        }
        remove.push(e.clone());
    }
    Plan {
        remove,
        left: left + listing.beyond + listing.kept.len() as u64,
        more: listing.truncated || !listing.unlisted.is_empty(),
        refused,
    }
}

/// What a clear did (journaled as `cache.cleared`, printed by `ballast approve`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cleared {
    /// The owning service.
    pub service: String,
    /// The cache's directory, absolute.
    pub path: String,
    /// Who cleared it: `ballast approve` or `auto_clear`.
    pub by: String,
    /// What was removed: files, and the bytes of those that had no other hard link (a file
    /// with another name keeps its data: counted in `shared`, its bytes not).
    pub files: u64,
    pub bytes: u64,
    #[serde(default)]
    pub shared: u64,
    pub links: u64,
    pub dirs: u64,
    pub other: u64,
    /// Entries that could not be removed (the first [`FAILURES_NAMED_COUNT`], with why).
    pub failed: Vec<String>,
    pub failed_count: u64,
    /// Entries left after this chunk, counted (`more`: at least this many — the count hit
    /// its bound, or a directory could not be listed).
    pub left: u64,
    pub more: bool,
    /// `max_clear_entries`: the bound of one chunk.
    #[serde(default)]
    pub bound: u64,
    /// This chunk's number (1 the first; 0 in records written before chunks).
    #[serde(default)]
    pub chunk: u32,
    /// The clear goes on with another chunk (something is left and this one made progress).
    #[serde(default)]
    pub continues: bool,
    /// Why it stopped with something left, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// Why nothing was cleared, when nothing could be (the directory is missing, is a
    /// symbolic link, is a refused path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

impl Cleared {
    /// Count one entry removed.
    pub fn removed(&mut self, e: &Entry) {
        match e.kind {
            EntryKind::File => {
                self.files += 1;
                if e.nlink > 1 {
                    self.shared += 1;
                } else {
                    self.bytes = self.bytes.saturating_add(e.bytes);
                }
            }
            EntryKind::Dir => self.dirs += 1,
            EntryKind::Symlink => self.links += 1,
            EntryKind::Other => self.other += 1,
        }
    }

    /// Count one entry that could not be removed.
    pub fn failed(&mut self, what: String) {
        self.failed_count += 1;
        if self.failed.len() < FAILURES_NAMED_COUNT {
            self.failed.push(what);
        }
    }

    /// Entries this chunk removed.
    pub fn progress(&self) -> u64 {
        self.files + self.links + self.dirs + self.other
    }

    /// Mark whether the clear goes on after this chunk: something is left, this chunk
    /// removed something, and fewer than [`MAX_CLEAR_CHUNKS`] ran; else why it stops.
    pub fn decide_next(&mut self) {
        self.continues = false;
        self.stopped = None;
        if self.refused.is_some() || (self.left == 0 && !self.more) {
            return;
        }
        if self.progress() == 0 {
            self.stopped = Some(
                "this chunk removed nothing, so the clear stops (see what could not be removed)"
                    .into(),
            );
        } else if self.chunk >= MAX_CLEAR_CHUNKS {
            self.stopped = Some(format!(
                "the clear stops after {MAX_CLEAR_CHUNKS} chunks (something writes into it as fast as it is cleared?)"
            ));
        } else {
            self.continues = true;
        }
    }

    /// In words: `cache /srv/bot/cache of bot cleared by ballast approve: 12 files (3100
    /// bytes freed), 1 link, 2 directories, 0 others removed; nothing is left in it`.
    pub fn summary(&self) -> String {
        let path = escaped(self.path.as_bytes());
        if let Some(why) = &self.refused {
            return format!("cache {path} of {} not cleared: {why}", self.service);
        }
        let chunk = if self.chunk > 1 {
            format!(" (chunk {})", self.chunk)
        } else {
            String::new()
        };
        let shared = if self.shared > 0 {
            format!(
                "; {} had another hard link: its data stays, its bytes are not counted",
                self.shared
            )
        } else {
            String::new()
        };
        let mut s = format!(
            "cache {path} of {} cleared by {}{chunk}: {} ({} bytes freed{shared}), {}, {}, {} removed",
            self.service,
            self.by,
            count(self.files, "file", "files"),
            self.bytes,
            count(self.links, "link", "links"),
            count(self.dirs, "directory", "directories"),
            count(self.other, "other", "others"),
        );
        if self.failed_count > 0 {
            s.push_str(&format!(
                "; {} could not be removed: {}",
                count(self.failed_count, "entry", "entries"),
                self.failed.join("; ")
            ));
        }
        if self.left == 0 && !self.more {
            s.push_str("; nothing is left in it");
            return s;
        }
        let at_least = if self.more { "at least " } else { "" };
        s.push_str(&format!(
            "; {at_least}{} left",
            count(self.left, "entry", "entries")
        ));
        if self.continues {
            s.push_str(&format!(
                ": the clear goes on in chunks of at most {} entries (max_clear_entries), each journaled as cache.cleared, until it is empty",
                self.bound
            ));
        } else if let Some(why) = &self.stopped {
            s.push_str(&format!(": {why}"));
        }
        s
    }
}

/// `1 file`, `2 files`.
fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `path` without `.` components and with `..` applied (lexically).
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Whether `a` is `b` or above it (lexically; both absolute).
fn at_or_above(a: &Path, b: &Path) -> bool {
    lexical(b).starts_with(lexical(a))
}

/// Why the directory `cache` (absolute) may not be cleared, if it may not: it is `/`, the data
/// directory, above it or inside it, the service's working directory or above it — what a
/// careless `path = "."` or `path = ".."` would otherwise delete.
pub fn refusal(cache: &Path, data_dir: Option<&Path>, cwd: Option<&Path>) -> Option<String> {
    let c = lexical(cache);
    if !c.is_absolute() {
        return Some(format!("{} is not an absolute path", cache.display()));
    }
    if c.parent().is_none() {
        return Some("it is the root directory /".into());
    }
    if let Some(d) = data_dir {
        if at_or_above(&c, d) {
            return Some(format!(
                "it is Ballast's data directory {} or a directory above it",
                d.display()
            ));
        }
        if at_or_above(d, &c) {
            return Some(format!(
                "it is inside Ballast's data directory {}",
                d.display()
            ));
        }
    }
    if let Some(w) = cwd {
        if at_or_above(&c, w) {
            return Some(format!(
                "it is the service's working directory {} or a directory above it",
                w.display()
            ));
        }
    }
    None
}

/// A path a cache must keep away from: a clear must never delete it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guarded {
    /// What it is, in words (`service bot's working directory`).
    pub what: String,
    pub path: PathBuf,
    /// The cache may not be inside it either (the data directory, another cache).
    pub nest: bool,
}

/// The paths the cache artifact `own` of `config` must keep away from, as declared: every
/// service's working directory, every other declared artifact and heartbeat file, every other
/// cache (nested caches are refused both ways), the configuration file in use and the data
/// directory (when known). The shell adds each one resolved (links followed) before a clear.
pub fn guarded(
    config: &crate::config::Config,
    own: usize,
    config_file: Option<&Path>,
    data_dir: Option<&Path>,
) -> Vec<Guarded> {
    use crate::config::ArtifactKind;
    let g = |what: String, path: PathBuf, nest: bool| Guarded { what, path, nest };
    let mut out = Vec::new();
    for s in &config.services {
        if !s.cwd.is_empty() {
            out.push(g(
                format!("service {}'s working directory", s.name),
                PathBuf::from(&s.cwd),
                false,
            ));
        }
        if !s.heartbeat_file.is_empty() {
            out.push(g(
                format!("service {}'s heartbeat file", s.name),
                s.declared_path(&s.heartbeat_file),
                false,
            ));
        }
    }
    for (j, a) in config.artifacts.iter().enumerate() {
        let Some(s) = config.services.iter().find(|s| s.name == a.service) else {
            continue;
        };
        if j == own || a.path.is_empty() {
            continue;
        }
        let cache = a.kind == ArtifactKind::Cache;
        let what = if cache {
            format!("service {}'s declared cache", s.name)
        } else {
            let kind = match a.kind {
                ArtifactKind::Dir => "dir",
                ArtifactKind::Json => "json",
                ArtifactKind::Jsonl => "jsonl",
                ArtifactKind::Lock => "lock",
                ArtifactKind::Heartbeat => "heartbeat",
                ArtifactKind::Cache => "cache",
            };
            format!("service {}'s declared {kind} artifact", s.name)
        };
        out.push(g(what, s.declared_path(&a.path), cache));
    }
    if let Some(f) = config_file {
        out.push(g(
            "the configuration file in use".into(),
            f.to_owned(),
            false,
        ));
    }
    if let Some(d) = data_dir {
        out.push(g("Ballast's data directory".into(), d.to_owned(), true));
    }
    out
}

/// Why the directory `cache` may not be cleared because of a [`Guarded`] path, if it may
/// not: it is one, holds one, or (for the data directory and another cache) is inside one.
/// Compared lexically: the shell passes resolved paths (a cache with a link in its path is
/// refused before).
pub fn guarded_refusal(cache: &Path, guarded: &[Guarded]) -> Option<String> {
    let c = lexical(cache);
    for g in guarded {
        let p = lexical(&g.path);
        if p == c {
            return Some(format!(
                "it is {} {}: a clear would delete its contents",
                g.what,
                g.path.display()
            ));
        }
        if p.starts_with(&c) {
            return Some(format!(
                "it holds {} {}: a clear would delete it",
                g.what,
                g.path.display()
            ));
        }
        if g.nest && c.starts_with(&p) {
            return Some(format!(
                "it is inside {} {}: a cache is never inside another cache or the data directory",
                g.what,
                g.path.display()
            ));
        }
    }
    None
}

/// Why a cache's declared `path` (as written in the configuration, relative to the service's
/// working directory) is refused without knowing any directory, if it is: empty, `.`, or
/// climbing to the working directory or above it with `..`; `/` or a top-level directory.
pub fn declared_refusal(path: &str) -> Option<String> {
    let p = Path::new(path);
    if p.is_absolute() {
        let depth = lexical(p)
            .components()
            .filter(|c| matches!(c, Component::Normal(_)))
            .count();
        return (depth < 2).then(|| {
            format!("{path:?} is / or a top-level directory: a cache is a directory of its own")
        });
    }
    let mut depth: i64 = 0;
    for c in p.components() {
        match c {
            Component::Normal(_) => depth += 1,
            Component::ParentDir => depth -= 1,
            _ => {}
        }
        if depth < 0 {
            break;
        }
    }
    (depth <= 0).then(|| {
        format!(
            "{path:?} is the service's working directory or a directory above it: clearing it would delete the service's own files"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(path: &str, kind: EntryKind, bytes: u64) -> Entry {
        Entry {
            path: path.split('/').map(str::to_owned).collect(),
            kind,
            bytes,
            nlink: 1,
        }
    }

    #[test]
    fn the_plan_removes_in_post_order_within_the_bound_and_keeps_a_directory_with_anything_left() {
        let listing = Listing {
            entries: vec![
                e("a/x", EntryKind::File, 10),
                e("a/y", EntryKind::Symlink, 0),
                e("a", EntryKind::Dir, 0),
                e("b/z", EntryKind::File, 5),
                e("b/w", EntryKind::File, 5),
                e("b", EntryKind::Dir, 0),
                e("c", EntryKind::File, 1),
            ],
            beyond: 0,
            truncated: false,
            kept: Vec::new(),
            unlisted: Vec::new(),
        };
        let all = plan(&listing, 100);
        assert_eq!(all.remove.len(), 7);
        assert_eq!((all.left, all.more), (0, false));
        // Bound 4: a/x, a/y, a, b/z; b/w is left, so b stays, and c is past the bound.
        let bounded = plan(&listing, 4);
        let shown: Vec<String> = bounded.remove.iter().map(Entry::shown).collect();
        assert_eq!(shown, ["a/x", "a/y", "a", "b/z"]);
        assert_eq!((bounded.left, bounded.more), (3, false));
        // What the walk counted past what it listed is left too, exactly.
        let counted = Listing {
            beyond: 900,
            ..listing.clone()
        };
        assert_eq!(
            (plan(&counted, 4).left, plan(&counted, 4).more),
            (903, false)
        );
        // A malformed name is never acted on, nor the directory holding it.
        let bad = Listing {
            entries: vec![e("d/..", EntryKind::File, 0), e("d", EntryKind::Dir, 0)],
            beyond: 0,
            truncated: true,
            kept: vec!["v: a mount point".into()],
            unlisted: vec!["x: cannot be listed".into()],
        };
        let p = plan(&bad, 100);
        assert!(p.remove.is_empty(), "{p:?}");
        assert_eq!(p.refused, ["d/.."]);
        assert!(p.more);
        assert_eq!(p.left, 3, "d/.., d and the kept v");
    }

    #[test]
    fn a_name_from_the_file_system_is_shown_escaped_on_one_line() {
        assert_eq!(escaped(b"plain name.bin"), "plain name.bin");
        assert_eq!(escaped(b"a\nERROR forged"), "a\\nERROR forged");
        assert_eq!(escaped(b"caf\xe9\t\x1b[31m"), "caf\\xe9\\t\\u{1b}[31m");
        assert_eq!(escaped(b"back\\slash"), "back\\\\slash");
        assert_eq!(escaped("caf\u{e9}".as_bytes()), "caf\u{e9}");
    }

    #[test]
    fn a_cache_is_never_the_root_the_data_directory_or_the_services_own_directory() {
        let data = Path::new("/srv/ballast-data");
        let cwd = Path::new("/srv/bot");
        let r = |c: &str| refusal(Path::new(c), Some(data), Some(cwd));
        assert_eq!(r("/srv/bot/cache"), None);
        assert_eq!(r("/var/cache/bot"), None);
        for bad in [
            "/",
            "/srv",
            "/srv/bot",
            "/srv/bot/.",
            "/srv/bot/cache/..",
            "/srv/ballast-data",
            "/srv/ballast-data/journal",
        ] {
            assert!(r(bad).is_some(), "{bad} is refused");
        }
        assert!(declared_refusal("cache").is_none());
        assert!(declared_refusal("a/../cache").is_none());
        assert!(declared_refusal("/var/cache/bot").is_none());
        for bad in ["", ".", "./", "..", "cache/..", "a/../..", "/", "/var"] {
            assert!(declared_refusal(bad).is_some(), "{bad:?} is refused");
        }
    }

    #[test]
    fn the_summary_says_what_was_removed_what_failed_and_what_is_left() {
        let mut c = Cleared {
            service: "bot".into(),
            path: "/srv/bot/cache".into(),
            by: "ballast approve".into(),
            ..Cleared::default()
        };
        c.removed(&e("a", EntryKind::File, 7));
        c.removed(&e("l", EntryKind::Symlink, 0));
        c.failed("b: permission denied".into());
        // A file with another hard link: counted as a file, its bytes not (its data stays).
        let mut shared = e("h", EntryKind::File, 1000);
        shared.nlink = 2;
        c.removed(&shared);
        c.left = 3;
        c.bound = 3;
        c.chunk = 1;
        c.decide_next();
        assert!(c.continues && c.stopped.is_none());
        assert_eq!(
            c.summary(),
            "cache /srv/bot/cache of bot cleared by ballast approve: 2 files (7 bytes freed; 1 had another hard link: its data stays, its bytes are not counted), 1 link, 0 directories, 0 others removed; 1 entry could not be removed: b: permission denied; 3 entries left: the clear goes on in chunks of at most 3 entries (max_clear_entries), each journaled as cache.cleared, until it is empty"
        );
        // The count hit its bound: "at least". A chunk that removed nothing stops the clear;
        // so does the chunk bound.
        let mut stuck = Cleared {
            left: 5,
            more: true,
            chunk: 2,
            ..Cleared::default()
        };
        stuck.decide_next();
        assert!(!stuck.continues);
        let said = stuck.summary();
        assert!(
            said.contains("(chunk 2)")
                && said.contains("at least 5 entries left: this chunk removed nothing"),
            "{said}"
        );
        let mut long = Cleared {
            files: 1,
            left: 5,
            chunk: MAX_CLEAR_CHUNKS,
            ..Cleared::default()
        };
        long.decide_next();
        assert!(!long.continues && long.stopped.unwrap().contains("1000 chunks"));
        let mut done = Cleared {
            files: 1,
            chunk: 7,
            ..Cleared::default()
        };
        done.decide_next();
        assert!(!done.continues && done.stopped.is_none());
        assert!(done.summary().ends_with("nothing is left in it"));
        for _ in 0..20 {
            c.failed("x".into());
        }
        assert_eq!(c.failed.len(), FAILURES_NAMED_COUNT);
        assert_eq!(c.failed_count, 21);
    }
}
