//! Clearing a declared cache: the one place Ballast deletes a user's files, and only by
//! declaration (`[[artifacts]] kind = "cache"`; docs/ARCHITECTURE.md, invariants). The
//! directory is opened without following a symbolic link, listed below it the same way (a
//! link inside is an entry, removed as the link; a directory is entered through a handle
//! opened with `O_NOFOLLOW`, so nothing swapped in for it leads outside), the pure plan
//! ([`ballast_core::cache::plan`]) says what to remove within `max_clear_entries`, and each
//! entry is removed by name under its parent's handle. What was removed, what failed and
//! what is left come back counted ([`Cleared`]).

use std::ffi::CStr;
use std::path::Path;

use ballast_core::cache::{self, Cleared, Entry, EntryKind, Listing, MAX_CLEAR_DEPTH};
use ballast_core::config::{ArtifactKind, Config};
use rustix::fd::OwnedFd;
use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags};

fn dir_flags() -> OFlags {
    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC
}

/// Empty the cache `path` (as declared) of `service`, if `config` declares it as a cache
/// and it is not a refused directory ([`cache::refusal`]: `/`, the data directory and what is
/// above or in it, the service's working directory and above).
pub fn clear(data_dir: &Path, config: &Config, service: &str, path: &str, by: &str) -> Cleared {
    let mut out = Cleared {
        service: service.to_owned(),
        path: path.to_owned(),
        by: by.to_owned(),
        ..Cleared::default()
    };
    let declared = config
        .artifacts
        .iter()
        .find(|a| a.kind == ArtifactKind::Cache && a.service == service && a.path == path);
    let (Some(a), Some(svc)) = (declared, config.services.iter().find(|s| s.name == service))
    else {
        out.refused = Some(format!(
            "the configuration in use declares no cache {path:?} of service {service:?}: Ballast deletes only what is declared"
        ));
        return out;
    };
    let dir = svc.declared_path(&a.path);
    let dir = std::path::absolute(&dir).unwrap_or(dir);
    out.path = dir.display().to_string();
    let data_dir = std::path::absolute(data_dir).unwrap_or_else(|_| data_dir.to_owned());
    let cwd = Path::new(&svc.cwd);
    if let Some(why) = cache::refusal(&dir, Some(&data_dir), Some(cwd).filter(|c| c.is_absolute()))
    {
        out.refused = Some(why);
        return out;
    }
    let root = match rustix::fs::open(&dir, dir_flags(), Mode::empty()) {
        Ok(fd) => fd,
        Err(e) => {
            let why = match e {
                rustix::io::Errno::NOENT => "it does not exist: nothing to clear".to_owned(),
                rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR => {
                    "it is a symbolic link or not a directory: declare the directory itself"
                        .to_owned()
                }
                e => format!("cannot open it: {}", std::io::Error::from(e)),
            };
            out.refused = Some(why);
            return out;
        }
    };
    let max = a.max_clear_entries as usize;
    let mut listing = Listing::default();
    walk(&root, &mut Vec::new(), &mut listing, max.saturating_add(1));
    let plan = cache::plan(&listing, max);
    for e in &plan.remove {
        match remove(&root, e) {
            Ok(()) => out.removed(e),
            Err(why) => out.failed(format!("{}: {why}", e.shown())),
        }
    }
    for r in plan.refused {
        out.failed(format!("{r}: not a name a clear acts on"));
    }
    for u in listing.unlisted {
        out.failed(u);
    }
    out.left = plan.left as u64;
    out.more = plan.more;
    out
}

fn name_of(n: &CStr) -> Option<String> {
    let s = n.to_str().ok()?;
    (s != "." && s != "..").then(|| s.to_owned())
}

/// `prefix/name`, as shown.
fn shown(prefix: &[String], name: &str) -> String {
    let mut p = prefix.join("/");
    if !p.is_empty() {
        p.push('/');
    }
    p.push_str(name);
    p
}

/// What `name` in `dir` is, as `lstat` sees it, and a file's size.
fn kind_of(dir: &OwnedFd, name: &str) -> Option<(EntryKind, u64)> {
    let st = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).ok()?;
    Some(match FileType::from_raw_mode(st.st_mode) {
        FileType::RegularFile => (EntryKind::File, u64::try_from(st.st_size).unwrap_or(0)),
        FileType::Directory => (EntryKind::Dir, 0),
        FileType::Symlink => (EntryKind::Symlink, 0),
        _ => (EntryKind::Other, 0),
    })
}

/// List `dir` (at `prefix` below the cache) in post-order into `listing`, at most `limit`
/// entries. True when everything under it was listed (its directory entry may then follow).
fn walk(dir: &OwnedFd, prefix: &mut Vec<String>, listing: &mut Listing, limit: usize) -> bool {
    let entries = match Dir::read_from(dir) {
        Ok(d) => d,
        Err(e) => {
            let at = if prefix.is_empty() {
                ".".to_owned()
            } else {
                prefix.join("/")
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
        if listing.entries.len() >= limit {
            listing.truncated = true;
            return false;
        }
        let Ok(entry) = entry else {
            complete = false;
            continue;
        };
        let Some(name) = name_of(entry.file_name()) else {
            if entry.file_name().to_str().is_err() {
                complete = false;
                let at = shown(prefix, "?");
                listing
                    .unlisted
                    .push(format!("{at}: a name that is not UTF-8 is left"));
            }
            continue;
        };
        let Some((kind, bytes)) = kind_of(dir, &name) else {
            complete = false;
            continue;
        };
        if kind == EntryKind::Dir && !walk_into(dir, name.clone(), prefix, listing, limit) {
            if listing.truncated {
                return false;
            }
            complete = false;
            continue;
        }
        if listing.entries.len() >= limit {
            listing.truncated = true;
            return false;
        }
        let mut path = prefix.clone();
        path.push(name);
        listing.entries.push(Entry { path, kind, bytes });
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
    limit: usize,
) -> bool {
    if prefix.len() + 1 >= MAX_CLEAR_DEPTH {
        let at = shown(prefix, &name);
        listing
            .unlisted
            .push(format!("{at}: deeper than {MAX_CLEAR_DEPTH} levels, left"));
        return false;
    }
    let Ok(sub) = rustix::fs::openat(dir, name.as_str(), dir_flags(), Mode::empty()) else {
        return false;
    };
    prefix.push(name);
    let whole = walk(&sub, prefix, listing, limit);
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
        let fd = rustix::fs::openat(at, p.as_str(), dir_flags(), Mode::empty())
            .map_err(|e| format!("cannot open {p}: {}", std::io::Error::from(e)))?;
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
        let c = clear(&data, &config(&cwd, "cache", ""), "bot", "cache", "test");
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
        let c = clear(&data, &cfg, "bot", "real", "test");
        assert!(c.refused.unwrap().contains("declares no cache"));
        // The declared directory is a link: not followed.
        let c = clear(&data, &cfg, "bot", "cache", "test");
        assert!(c.refused.unwrap().contains("symbolic link"), "refused");
        assert!(cwd.join("real/f").exists());
        // The data directory inside the cache (known only at run time): refused.
        let cfg = config(&cwd, "real", "");
        let c = clear(&cwd.join("real/data"), &cfg, "bot", "real", "test");
        assert!(c.refused.unwrap().contains("data directory"));
        assert!(cwd.join("real/f").exists());
        // Missing: nothing to clear, said so.
        std::fs::remove_dir_all(cwd.join("real")).unwrap();
        let c = clear(&data, &cfg, "bot", "real", "test");
        assert!(c.refused.unwrap().contains("does not exist"));
    }
}
