//! Clearing a declared cache: the one place Ballast deletes a user's files, and only by
//! declaration (`[[artifacts]] kind = "cache"`; docs/ARCHITECTURE.md, invariants). The
//! directory is opened without following a symbolic link, listed below it the same way (a
//! link inside is an entry, removed as the link; a directory is entered through a handle
//! opened with `O_NOFOLLOW`, so nothing swapped in for it leads outside), the pure plan
//! ([`ballast_core::cache::plan`]) says what to remove within `max_clear_entries`, and each
//! entry is removed by name under its parent's handle. What was removed, what failed and
//! what is left come back counted ([`Cleared`]).

use std::ffi::CStr;
use std::path::{Component, Path, PathBuf};

use ballast_core::cache::{
    self, Cleared, Entry, EntryKind, Listing, MAX_CLEAR_DEPTH, MAX_LEFT_COUNTED, escaped,
    escaped_path,
};
use ballast_core::config::{ArtifactKind, Config};
use rustix::fd::OwnedFd;
use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags};

use crate::cache_guard::{Guard, shown_name};

/// A cache [`verify`] lets a clear act on.
pub struct Verified {
    /// Its directory, absolute.
    pub dir: PathBuf,
    /// Its handle (`None`: it does not exist).
    pub root: Option<OwnedFd>,
    pub max_clear_entries: u32,
    /// What a clear must never remove inside it under another name (what, path): the data
    /// directory and every guarded path.
    pub guarded: Vec<(String, PathBuf)>,
}

fn dir_flags() -> OFlags {
    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC
}

/// The cache `path` (as declared) of `service`, verified: declared as a cache by `config`,
/// its directory opened component by component from `/` without following a symbolic link
/// in any of them, and neither refused by itself ([`cache::refusal`]) nor near a guarded path
/// ([`cache::guarded`], each compared as declared and resolved). `Ok(None)`: it does not
/// exist. The handle is the one a clear walks: nothing is reopened by its path.
pub fn verify(
    data_dir: &Path,
    config: &Config,
    config_file: Option<&Path>,
    service: &str,
    path: &str,
) -> Result<Verified, String> {
    let declared = config
        .artifacts
        .iter()
        .enumerate()
        .find(|(_, a)| a.kind == ArtifactKind::Cache && a.service == service && a.path == path);
    let (Some((own, a)), Some(svc)) =
        (declared, config.services.iter().find(|s| s.name == service))
    else {
        return Err(format!(
            "the configuration in use declares no cache {path:?} of service {service:?}: Ballast deletes only what is declared"
        ));
    };
    let dir = svc.declared_path(&a.path);
    let dir = std::path::absolute(&dir).unwrap_or(dir);
    let data = std::path::absolute(data_dir).unwrap_or_else(|_| data_dir.to_owned());
    let cwd = (!svc.cwd.is_empty())
        .then(|| std::path::absolute(&svc.cwd).ok())
        .flatten();
    // As declared, then resolved: a data directory or working directory reached through a
    // link is compared where it really is.
    for (d, w) in [
        (data.clone(), cwd.clone()),
        (resolved(&data), cwd.as_deref().map(resolved)),
    ] {
        if let Some(why) = cache::refusal(&dir, Some(&d), w.as_deref()) {
            return Err(why);
        }
    }
    // Walked as written (`..` included: a link before it is a link in the path too).
    let written = match Path::new(&a.path) {
        p if p.is_absolute() || svc.cwd.is_empty() => p.to_owned(),
        p => Path::new(&svc.cwd).join(p),
    };
    let root = open_verified(&std::path::absolute(&written).unwrap_or(written))?;
    let config_file = config_file.map(|f| std::path::absolute(f).unwrap_or_else(|_| f.to_owned()));
    let mut guarded = cache::guarded(config, own, config_file.as_deref(), Some(&data));
    let as_resolved: Vec<cache::Guarded> = guarded
        .iter()
        .map(|g| {
            let abs = std::path::absolute(&g.path).unwrap_or_else(|_| g.path.clone());
            cache::Guarded {
                path: resolved(&abs),
                ..g.clone()
            }
        })
        .collect();
    guarded.extend(as_resolved);
    if let Some(why) = cache::guarded_refusal(&dir, &guarded) {
        return Err(why);
    }
    let mut kept = vec![("Ballast's data directory".to_owned(), data)];
    kept.extend(guarded.into_iter().map(|g| (g.what, g.path)));
    Ok(Verified {
        dir,
        root,
        max_clear_entries: a.max_clear_entries,
        guarded: kept,
    })
}

/// Empty the cache `path` (as declared) of `service`, once [`verify`] lets it, and only if
/// it is still the directory `raised_for` (the one its recommendation named: a reload that
/// moved the cache, the owner's cwd changed, makes the clear refused, nothing removed).
pub fn clear(
    data_dir: &Path,
    config: &Config,
    config_file: Option<&Path>,
    (service, path): (&str, &str),
    raised_for: &str,
    by: &str,
) -> Cleared {
    let mut out = Cleared {
        service: service.to_owned(),
        path: path.to_owned(),
        by: by.to_owned(),
        ..Cleared::default()
    };
    if let Some(svc) = config.services.iter().find(|s| s.name == service) {
        let dir = svc.declared_path(path);
        out.path = std::path::absolute(&dir)
            .unwrap_or(dir)
            .display()
            .to_string();
    }
    let v = match verify(data_dir, config, config_file, service, path) {
        Ok(v) => v,
        Err(why) => {
            out.refused = Some(why);
            return out;
        }
    };
    out.path = v.dir.display().to_string();
    let raised = Path::new(raised_for);
    let raised = std::path::absolute(raised).unwrap_or_else(|_| raised.to_owned());
    if raised != v.dir {
        out.refused = Some(format!(
            "it was recommended for the directory {}, and the configuration in force now declares {service}'s cache {} at {}: nothing removed (a new recommendation follows if it is still needed)",
            escaped_path(&raised),
            escaped(path.as_bytes()),
            escaped_path(&v.dir)
        ));
        out.path = raised.display().to_string();
        return out;
    }
    let Some(root) = v.root else {
        out.refused = Some("it does not exist: nothing to clear".to_owned());
        return out;
    };
    let Some(guard) = Guard::new(&root, &v.dir, &v.guarded) else {
        out.refused =
            Some("its directory cannot be examined (statx failed): nothing removed".into());
        return out;
    };
    out.bound = u64::from(v.max_clear_entries);
    let max = v.max_clear_entries as usize;
    let mut listing = Listing::default();
    let bounds = Bounds {
        list: max,
        count: MAX_LEFT_COUNTED,
        guard: &guard,
    };
    walk(&root, &mut Vec::new(), &mut listing, bounds);
    let plan = cache::plan(&listing, max);
    let mut left = plan.left;
    for e in &plan.remove {
        match remove(&root, e) {
            Ok(()) => out.removed(e),
            Err(why) => {
                // It stays: counted in what is left, and named.
                left += 1;
                out.failed(format!("{}: {why}", e.shown()));
            }
        }
    }
    for r in plan.refused {
        out.failed(format!("{r}: not a name a clear acts on"));
    }
    for k in listing.kept {
        out.failed(k);
    }
    for u in listing.unlisted {
        out.failed(u);
    }
    out.left = left;
    out.more = plan.more;
    out
}

/// `path` with every link followed: the longest part that exists resolved, the rest appended
/// (a declared file that does not exist yet is compared where it would be). Bounded by the
/// path's components.
fn resolved(path: &Path) -> PathBuf {
    let mut rest = Vec::new();
    let mut at = path;
    loop {
        if let Ok(mut r) = std::fs::canonicalize(at) {
            for c in rest.iter().rev() {
                r.push(c);
            }
            return r;
        }
        match (at.parent(), at.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                at = parent;
            }
            _ => return path.to_owned(),
        }
    }
}

/// Open the directory `dir` (absolute) from `/`, one component at a time, each with
/// `O_NOFOLLOW`: a symbolic link in any component is refused, named (so its resolved path
/// is the one written). `Ok(None)`: a component does not exist.
fn open_verified(dir: &Path) -> Result<Option<OwnedFd>, String> {
    let mut fd = rustix::fs::open("/", dir_flags(), Mode::empty())
        .map_err(|e| format!("cannot open /: {}", std::io::Error::from(e)))?;
    let mut walked = PathBuf::from("/");
    for c in dir.components() {
        let name = match c {
            Component::RootDir | Component::CurDir => continue,
            Component::Prefix(_) => {
                return Err(format!("{} is not a Unix path", escaped_path(dir)));
            }
            Component::ParentDir => std::ffi::OsStr::new(".."),
            Component::Normal(n) => n,
        };
        walked.push(name);
        fd = match rustix::fs::openat(&fd, name, dir_flags(), Mode::empty()) {
            Ok(next) => next,
            Err(rustix::io::Errno::NOENT) => return Ok(None),
            Err(e @ (rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR)) => {
                let st = rustix::fs::statat(&fd, name, AtFlags::SYMLINK_NOFOLLOW);
                let link =
                    st.is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Symlink);
                if !link {
                    let e = std::io::Error::from(e);
                    return Err(format!("{} is not a directory: {e}", escaped_path(&walked)));
                }
                let to = rustix::fs::readlinkat(&fd, name, Vec::new())
                    .map(|t| escaped(t.as_bytes()))
                    .unwrap_or_else(|_| "?".into());
                return Err(format!(
                    "{} in its path is a symbolic link (to {to}): a cache's path has no link in any component, so what is cleared is what the configuration says; declare the directory it resolves to ({})",
                    escaped_path(&walked),
                    escaped_path(&resolved(dir))
                ));
            }
            Err(e) => {
                let e = std::io::Error::from(e);
                return Err(format!("cannot open {}: {e}", escaped_path(&walked)));
            }
        };
    }
    Ok(Some(fd))
}

fn name_of(n: &CStr) -> Option<String> {
    let s = n.to_str().ok()?;
    (s != "." && s != "..").then(|| s.to_owned())
}

/// `prefix/name`, as shown: each name escaped.
fn shown(prefix: &[String], name: &str) -> String {
    let mut p: Vec<String> = prefix.iter().map(|n| escaped(n.as_bytes())).collect();
    p.push(escaped(name.as_bytes()));
    p.join("/")
}

/// The walk's bounds: entries it lists (`max_clear_entries`), and how many more it counts.
#[derive(Clone, Copy)]
struct Bounds<'a> {
    list: usize,
    count: u64,
    /// What the walk never crosses or lists (a mount point, a guarded path).
    guard: &'a Guard,
}

impl Bounds<'_> {
    /// Whether the count is full: the walk stops (what is left is then "at least").
    fn full(&self, listing: &mut Listing) -> bool {
        if listing.beyond >= self.count {
            listing.truncated = true;
        }
        listing.truncated
    }
}

/// List `dir` (at `prefix` below the cache) in post-order into `listing`, at most
/// `bounds.list` entries, counting the rest. True when everything under it was listed (its
/// directory entry may then follow).
fn walk(
    dir: &OwnedFd,
    prefix: &mut Vec<String>,
    listing: &mut Listing,
    bounds: Bounds<'_>,
) -> bool {
    let entries = match Dir::read_from(dir) {
        Ok(d) => d,
        Err(e) => {
            let at = match prefix.split_last() {
                None => ".".to_owned(),
                Some((last, above)) => shown(above, last),
            };
            let e = std::io::Error::from(e);
            listing
                .unlisted
                .push(format!("{at}: cannot be listed: {e}"));
            return false;
        }
    };
    let mut complete = true;
    for entry in entries {
        if bounds.full(listing) {
            return false;
        }
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                let at = shown(prefix, "?");
                let e = std::io::Error::from(e);
                listing.unlisted.push(format!("{at}: cannot be read: {e}"));
                return false;
            }
        };
        let Some(name) = name_of(entry.file_name()) else {
            if entry.file_name().to_str().is_err() {
                complete = false;
                let mut at = shown(prefix, "");
                at.push_str(&shown_name(entry.file_name()));
                listing
                    .kept
                    .push(format!("{at}: a name that is not UTF-8 is left"));
            }
            continue;
        };
        // Past the bound, what is not a directory is only counted: its type from the listing
        // itself when the file system says it (no `lstat` per entry on the loop).
        let known = entry.file_type();
        if listing.entries.len() >= bounds.list
            && known != FileType::Directory
            && known != FileType::Unknown
        {
            listing.beyond += 1;
            complete = false;
            continue;
        }
        let Some((seen, stays)) = bounds.guard.look(dir, prefix, &name) else {
            complete = false;
            continue;
        };
        if let Some(why) = stays {
            complete = false;
            listing
                .kept
                .push(format!("{}: {why}", shown(prefix, &name)));
            continue;
        }
        let (kind, bytes, nlink) = (seen.kind, seen.bytes, seen.nlink);
        let whole = kind != EntryKind::Dir || walk_into(dir, name.clone(), prefix, listing, bounds);
        if !whole || listing.entries.len() >= bounds.list {
            // It stays: counted (a directory with anything left in it, or past the bound).
            listing.beyond += 1;
            complete = false;
            continue;
        }
        let mut path = prefix.clone();
        path.push(name);
        listing.entries.push(Entry {
            path,
            kind,
            bytes,
            nlink,
        });
    }
    complete
}

/// List the directory `name` in `dir`, entered through a handle opened with `O_NOFOLLOW`.
/// True when everything in it was listed (its own entry may then be listed after it).
fn walk_into(
    dir: &OwnedFd,
    name: String,
    prefix: &mut Vec<String>,
    listing: &mut Listing,
    bounds: Bounds<'_>,
) -> bool {
    if prefix.len() + 1 >= MAX_CLEAR_DEPTH {
        let at = shown(prefix, &name);
        listing
            .unlisted
            .push(format!("{at}: deeper than {MAX_CLEAR_DEPTH} levels, left"));
        return false;
    }
    let sub = match rustix::fs::openat(dir, name.as_str(), dir_flags(), Mode::empty()) {
        Ok(sub) => sub,
        Err(e) => {
            let at = shown(prefix, &name);
            let e = std::io::Error::from(e);
            listing
                .unlisted
                .push(format!("{at}: cannot be opened: {e}"));
            return false;
        }
    };
    prefix.push(name);
    let whole = walk(&sub, prefix, listing, bounds);
    prefix.pop();
    whole
}

/// Remove one entry of the plan: its parent directories opened one by one from the cache's
/// handle without following a link, then the name unlinked there (a directory with
/// `AT_REMOVEDIR`: only an empty one goes).
fn remove(root: &OwnedFd, e: &Entry) -> Result<(), String> {
    let Some((name, parents)) = e.path.split_last() else {
        return Err("an empty path".into());
    };
    let mut held: Option<OwnedFd> = None;
    for p in parents {
        let at = held.as_ref().unwrap_or(root);
        let fd = rustix::fs::openat(at, p.as_str(), dir_flags(), Mode::empty()).map_err(|e| {
            let e = std::io::Error::from(e);
            format!("cannot open {}: {e}", escaped(p.as_bytes()))
        })?;
        held = Some(fd);
    }
    let at = held.as_ref().unwrap_or(root);
    let flags = if e.kind == EntryKind::Dir {
        AtFlags::REMOVEDIR
    } else {
        AtFlags::empty()
    };
    rustix::fs::unlinkat(at, name.as_str(), flags).map_err(|e| std::io::Error::from(e).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ballast_core::config::{Source, load};

    fn config(cwd: &Path, path: &str, extra: &str) -> Config {
        let text = format!(
            "[[services]]\nname = \"bot\"\ncommand = \"x\"\ncwd = \"{}\"\n[[artifacts]]\nservice = \"bot\"\nkind = \"cache\"\npath = \"{path}\"\n{extra}",
            cwd.display()
        );
        load(
            Some(Source {
                path: "ballast.toml",
                text: &text,
            }),
            &[],
        )
        .unwrap()
    }

    /// A clear of the directory the configuration declares now.
    fn clear_as_declared(
        data: &Path,
        cfg: &Config,
        file: Option<&Path>,
        service: &str,
        path: &str,
    ) -> Cleared {
        let dir = cfg
            .services
            .iter()
            .find(|s| s.name == service)
            .map_or_else(|| path.into(), |s| s.declared_path(path));
        let dir = dir.display().to_string();
        clear(data, cfg, file, (service, path), &dir, "test")
    }

    #[test]
    fn a_clear_empties_the_directory_keeps_it_and_never_follows_a_link_out() {
        let tmp = tempfile::tempdir().unwrap();
        let (cwd, data) = (tmp.path().join("bot"), tmp.path().join("data"));
        let cache = cwd.join("cache");
        std::fs::create_dir_all(cache.join("a/b/c")).unwrap();
        std::fs::create_dir_all(tmp.path().join("outside")).unwrap();
        std::fs::write(tmp.path().join("outside/keep"), b"k").unwrap();
        std::fs::write(cache.join("a/b/c/f"), b"1234").unwrap();
        std::os::unix::fs::symlink(tmp.path().join("outside"), cache.join("a/out")).unwrap();
        // Deeper than a clear descends: left, and said so.
        let mut deep = cache.join("deep");
        for i in 0..MAX_CLEAR_DEPTH + 1 {
            deep = deep.join(i.to_string());
        }
        std::fs::create_dir_all(&deep).unwrap();
        let c = clear_as_declared(&data, &config(&cwd, "cache", ""), None, "bot", "cache");
        assert_eq!(c.refused, None);
        assert_eq!((c.files, c.bytes, c.links, c.dirs), (1, 4, 1, 3), "{c:?}");
        assert!(c.more && c.failed_count == 1, "{c:?}");
        assert!(c.failed[0].contains("deeper than"), "{c:?}");
        assert!(cache.is_dir(), "the directory itself stays");
        assert!(!cache.join("a").exists());
        assert!(
            tmp.path().join("outside/keep").exists(),
            "a link's target stays"
        );
    }

    #[test]
    fn a_clear_refuses_what_is_not_declared_a_link_and_the_data_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let cwd = tmp.path().join("bot");
        std::fs::create_dir_all(cwd.join("real")).unwrap();
        std::fs::write(cwd.join("real/f"), b"x").unwrap();
        std::os::unix::fs::symlink(cwd.join("real"), cwd.join("cache")).unwrap();
        let data = tmp.path().join("data");
        let cfg = config(&cwd, "cache", "");
        // Not declared as a cache: nothing.
        let c = clear_as_declared(&data, &cfg, None, "bot", "real");
        assert!(c.refused.unwrap().contains("declares no cache"));
        // The declared directory is a link: not followed.
        let c = clear_as_declared(&data, &cfg, None, "bot", "cache");
        assert!(c.refused.unwrap().contains("symbolic link"), "refused");
        assert!(cwd.join("real/f").exists());
        // The data directory inside the cache (known only at run time): refused.
        let cfg = config(&cwd, "real", "");
        let c = clear_as_declared(&cwd.join("real/data"), &cfg, None, "bot", "real");
        assert!(c.refused.unwrap().contains("data directory"));
        assert!(cwd.join("real/f").exists());
        // Missing: nothing to clear, said so.
        std::fs::remove_dir_all(cwd.join("real")).unwrap();
        let c = clear_as_declared(&data, &cfg, None, "bot", "real");
        assert!(c.refused.unwrap().contains("does not exist"));
    }

    fn two(tmp: &Path, bot_extra: &str, bot2_cache: &str, extra: &str) -> Config {
        let text = format!(
            "[[services]]\nname = \"bot\"\ncommand = \"x\"\n{bot_extra}[[services]]\nname = \"bot2\"\ncommand = \"x\"\ncwd = \"{0}/f\"\n[[artifacts]]\nservice = \"bot2\"\nkind = \"cache\"\npath = \"{bot2_cache}\"\n{extra}",
            tmp.display()
        );
        load(
            Some(Source {
                path: "ballast.toml",
                text: &text,
            }),
            &[],
        )
        .unwrap()
    }

    fn files(dir: &Path, n: usize) {
        std::fs::create_dir_all(dir).unwrap();
        for i in 0..n {
            std::fs::write(dir.join(format!("f{i}")), b"x").unwrap();
        }
    }

    #[test]
    fn a_link_in_any_component_of_the_path_is_refused_and_the_data_directory_is_compared_resolved()
    {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        // A link in a parent component: bot/plink -> d, cache "plink/data" is d/data.
        files(&d.join("data/journal"), 3);
        std::fs::create_dir_all(d.join("bot")).unwrap();
        std::os::unix::fs::symlink(d, d.join("bot/plink")).unwrap();
        let cfg = config(&d.join("bot"), "plink/data", "");
        let c = clear_as_declared(&d.join("data"), &cfg, None, "bot", "plink/data");
        let why = c.refused.expect("refused");
        assert!(
            why.contains("bot/plink in its path is a symbolic link"),
            "{why}"
        );
        assert_eq!(
            std::fs::read_dir(d.join("data/journal")).unwrap().count(),
            3
        );
        // A link in a component of a cache that is not the data directory: refused too.
        files(&d.join("real"), 2);
        std::os::unix::fs::symlink(d.join("real"), d.join("bot/alias")).unwrap();
        let cfg = config(&d.join("bot"), "alias/sub/..", "");
        let c = clear_as_declared(&d.join("data"), &cfg, None, "bot", "alias/sub/..");
        assert!(c.refused.is_some(), "{c:?}");
        // A link before a "..": the kernel would go through it, so it is a link in the path
        // too (written "plink/../x", lexically bot/x).
        files(&d.join("bot/x"), 1);
        let cfg = config(&d.join("bot"), "plink/../x", "");
        let c = clear_as_declared(&d.join("data"), &cfg, None, "bot", "plink/../x");
        let why = c.refused.expect("refused");
        assert!(
            why.contains("plink in its path is a symbolic link"),
            "{why}"
        );
        assert!(d.join("bot/x/f0").exists());
        // A data directory reached through a link: d/dlink -> bot/cache/data, cache "cache".
        files(&d.join("bot/cache/data/journal"), 2);
        std::os::unix::fs::symlink(d.join("bot/cache/data"), d.join("dlink")).unwrap();
        let cfg = config(&d.join("bot"), "cache", "");
        let c = clear_as_declared(&d.join("dlink"), &cfg, None, "bot", "cache");
        let why = c.refused.expect("refused");
        assert!(why.contains("data directory"), "{why}");
        assert_eq!(
            std::fs::read_dir(d.join("bot/cache/data/journal"))
                .unwrap()
                .count(),
            2
        );
    }

    #[test]
    fn a_cache_never_holds_another_services_directory_a_declared_file_another_cache_or_the_config()
    {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        files(&d.join("bot"), 2);
        files(&d.join("f/c"), 2);
        let data = d.join("data");
        // bot2's cache "bot" is bot's working directory, declared through a link (blink ->
        // f/bot), so only the resolved paths show it.
        files(&d.join("f/bot"), 2);
        std::os::unix::fs::symlink(d.join("f/bot"), d.join("blink")).unwrap();
        let bot_cwd = format!("cwd = \"{}/blink\"\n", d.display());
        let cfg = two(d, &bot_cwd, "bot", "");
        let c = clear_as_declared(&data, &cfg, None, "bot2", "bot");
        let why = c.refused.expect("refused");
        assert!(
            why.contains("it is service bot's working directory"),
            "{why}"
        );
        assert_eq!(std::fs::read_dir(d.join("f/bot")).unwrap().count(), 2);
        // A json artifact declared through an alias link that lands inside the cache.
        std::os::unix::fs::symlink(d.join("f/c"), d.join("bot/alias")).unwrap();
        let json = format!(
            "[[artifacts]]\nservice = \"bot\"\nkind = \"json\"\npath = \"{}/bot/alias/f0\"\n",
            d.display()
        );
        let cwd = format!("cwd = \"{}/bot\"\n", d.display());
        let cfg = two(d, &cwd, "c", &json);
        let c = clear_as_declared(&data, &cfg, None, "bot2", "c");
        let why = c.refused.expect("refused");
        assert!(why.contains("declared json artifact"), "{why}");
        assert!(d.join("f/c/f0").exists());
        // The configuration file in use, inside the cache.
        let cfg = two(d, "", "c", "");
        let toml = d.join("f/c/ballast.toml");
        std::fs::write(&toml, b"x").unwrap();
        let c = clear_as_declared(&data, &cfg, Some(&toml), "bot2", "c");
        let why = c.refused.expect("refused");
        assert!(why.contains("the configuration file in use"), "{why}");
        assert!(toml.exists());
        // Another service's cache inside it, reached through a link in bot's cwd.
        std::os::unix::fs::symlink(d.join("f"), d.join("bot/flink")).unwrap();
        let inner =
            "[[artifacts]]\nservice = \"bot\"\nkind = \"cache\"\npath = \"flink/c/inner\"\n";
        let cfg = two(d, &cwd, "c", inner);
        let c = clear_as_declared(&data, &cfg, None, "bot2", "c");
        let why = c.refused.expect("refused");
        assert!(why.contains("declared cache"), "{why}");
        // Without them: cleared.
        let cfg = two(d, "", "c", "");
        let c = clear_as_declared(&data, &cfg, None, "bot2", "c");
        assert_eq!((c.refused, c.files), (None, 3), "f0, f1, ballast.toml");
    }

    #[test]
    fn what_is_left_is_counted_exactly_and_a_hard_links_bytes_are_not_counted_as_freed() {
        let tmp = tempfile::tempdir().unwrap();
        let cwd = tmp.path().join("bot");
        let cache = cwd.join("cache");
        files(&cache.join("sub"), 600);
        files(&cache, 400);
        std::fs::hard_link(cache.join("f0"), tmp.path().join("other-name")).unwrap();
        let cfg = config(&cwd, "cache", "max_clear_entries = 100\n");
        let c = clear_as_declared(&tmp.path().join("data"), &cfg, None, "bot", "cache");
        assert_eq!(c.refused, None);
        assert_eq!(c.progress(), 100);
        // 1000 files and the directory sub, less the 100 removed: exactly 901, not "1 or more".
        assert_eq!((c.left, c.more, c.bound), (901, false, 100), "{c:?}");
        // The rest in one more clear: 1000 files in all, f0 among them with another name.
        let cfg = config(&cwd, "cache", "");
        let rest = clear_as_declared(&tmp.path().join("data"), &cfg, None, "bot", "cache");
        assert_eq!((rest.left, rest.more), (0, false));
        assert_eq!(c.files + rest.files, 1000);
        assert_eq!(c.shared + rest.shared, 1, "f0 had another name");
        assert_eq!(
            c.bytes + rest.bytes,
            999,
            "one byte per file with no other name"
        );
        assert_eq!(std::fs::read(tmp.path().join("other-name")).unwrap(), b"x");
    }
}
