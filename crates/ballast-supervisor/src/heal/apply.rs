//! Carrying out one `heal` action of the plan: the parent checks the path and picks the
//! step by the action's op; each step records before and after in the [`Applied`] and copies
//! whatever it removes to quarantine first.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use ballast_core::heal::{Action, Class, Op};
use ballast_store::quarantine::Quarantine;
use ballast_store::{Layout, RealStorage, Storage};

use super::{Applied, Healer, start_time, write_atomic};

/// Where one action works: its path (and how it is shown in messages), the storage, the
/// data directory's layout and its quarantine.
struct Site<'a> {
    path: PathBuf,
    shown: String,
    storage: &'a RealStorage,
    layout: &'a Layout,
    q: Quarantine<'a>,
}

impl Site<'_> {
    /// The error of a failed I/O step: `cannot <what> <path>: <error>`.
    fn io(&self, what: &str) -> impl FnOnce(std::io::Error) -> String + use<> {
        let shown = self.shown.clone();
        let what = what.to_owned();
        move |err: std::io::Error| format!("cannot {what} {shown}: {err}")
    }

    /// The path's size now (0 when it cannot be read).
    fn size(&self) -> u64 {
        std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0)
    }

    /// A path as the ops journal shows it (relative to the data directory).
    fn rel(&self, path: &Path) -> String {
        self.layout.display(path)
    }
}

impl Healer<'_> {
    /// Carry out one `heal` action.
    pub fn apply(
        &self,
        action: &Action,
        restart: &mut dyn FnMut(&str) -> Result<(), String>,
    ) -> Applied {
        let mut done = Applied {
            action: action.clone(),
            error: None,
            before: String::new(),
            after: String::new(),
            quarantined: None,
        };
        if action.class != Class::Heal {
            done.error = Some("not a heal action".into());
            return done;
        }
        if let Err(e) = self.apply_op(action, &mut done, restart) {
            done.error = Some(e);
        }
        done
    }

    fn quarantine(&self) -> (Layout, RealStorage) {
        (self.layout(), RealStorage)
    }

    fn apply_op(
        &self,
        action: &Action,
        done: &mut Applied,
        restart: &mut dyn FnMut(&str) -> Result<(), String>,
    ) -> Result<(), String> {
        let path = self.resolve(&action.target);
        // Shown escaped: a name from a directory listing never forges a log line.
        let shown = ballast_core::cache::escaped_path(&path);
        let (layout, storage) = self.quarantine();
        // Never through a link inside the data directory (the plan holds those back; this
        // also refuses one put in place since the inspection).
        layout
            .check_no_symlink(&path)
            .map_err(|err| format!("cannot heal {shown}: {err}"))?;
        let site = Site {
            path,
            shown,
            storage: &storage,
            layout: &layout,
            q: Quarantine {
                storage: &storage,
                layout: &layout,
                clock: self.clock,
            },
        };
        match &action.op {
            Op::CreateDir => create_dir(&site, done),
            Op::ReplaceWithDir => replace_with_dir(&site, done),
            Op::Truncate { keep_bytes } => truncate(&site, *keep_bytes, done),
            Op::MoveAside => move_aside(&site, done),
            Op::Rewrite {
                content,
                expect_bytes,
                bad_lines,
            } => rewrite(&site, content, *expect_bytes, bad_lines.as_deref(), done),
            Op::CreateFile { content } => create_file(&site, content, done),
            Op::MakeUnwritableByOthers => make_unwritable_by_others(&site, done),
            Op::MakeWritable => make_writable(&site, done),
            Op::Restart { service } => {
                done.before = format!("service {service} running with a stale heartbeat");
                restart(service)?;
                done.after = format!("service {service} restarted");
                Ok(())
            }
            Op::Kill { pid, start_time } => kill(*pid, *start_time, done),
            Op::Report => Err("nothing to apply".into()),
        }
    }
}

fn create_dir(s: &Site, done: &mut Applied) -> Result<(), String> {
    done.before = "missing".into();
    s.storage
        .create_dir_all(&s.path)
        .map_err(s.io("create directory"))?;
    if let Some(parent) = s.path.parent() {
        let _ = s.storage.sync_dir(parent);
    }
    done.after = "directory".into();
    Ok(())
}

fn replace_with_dir(s: &Site, done: &mut Applied) -> Result<(), String> {
    done.before = format!("a non-directory of {} bytes", s.size());
    let moved =
        s.q.move_aside(&s.path)
            .map_err(s.io("move to quarantine"))?;
    done.quarantined = Some(s.rel(&moved));
    s.storage
        .create_dir_all(&s.path)
        .map_err(s.io("create directory"))?;
    done.after = "directory".into();
    Ok(())
}

fn truncate(s: &Site, keep_bytes: u64, done: &mut Applied) -> Result<(), String> {
    let len = s.size();
    if len <= keep_bytes {
        return Err(format!(
            "{} has {len} bytes now, not more than {keep_bytes}: nothing to cut (it changed since it was inspected)",
            s.shown
        ));
    }
    done.before = format!("{len} bytes");
    let copy = s.q.copy(&s.path).map_err(s.io("copy to quarantine"))?;
    done.quarantined = Some(s.rel(&copy));
    let mut f = s.storage.open_append(&s.path).map_err(s.io("open"))?;
    f.set_len(keep_bytes).map_err(s.io("truncate"))?;
    f.sync_data().map_err(s.io("fdatasync"))?;
    done.after = format!("{keep_bytes} bytes");
    Ok(())
}

fn move_aside(s: &Site, done: &mut Applied) -> Result<(), String> {
    done.before = format!("{} bytes", s.size());
    let moved =
        s.q.move_aside(&s.path)
            .map_err(s.io("move to quarantine"))?;
    done.quarantined = Some(s.rel(&moved));
    done.after = "moved to quarantine".into();
    Ok(())
}

fn rewrite(
    s: &Site,
    content: &str,
    expect_bytes: u64,
    bad_lines: Option<&str>,
    done: &mut Applied,
) -> Result<(), String> {
    let len = s.size();
    if len != expect_bytes {
        return Err(format!(
            "{} changed since it was inspected ({expect_bytes} -> {len} bytes): retried by the next sweep",
            s.shown
        ));
    }
    done.before = format!("{len} bytes");
    let saved = match bad_lines {
        Some(lines) => s.q.store(&s.path, lines.as_bytes()),
        None => s.q.copy(&s.path),
    }
    .map_err(s.io("copy to quarantine"))?;
    done.quarantined = Some(s.rel(&saved));
    write_atomic(s.storage, &s.path, content.as_bytes()).map_err(s.io("rewrite"))?;
    done.after = format!("{} bytes", content.len());
    Ok(())
}

fn create_file(s: &Site, content: &str, done: &mut Applied) -> Result<(), String> {
    done.before = "missing".into();
    if let Some(parent) = s.path.parent() {
        s.storage
            .create_dir_all(parent)
            .map_err(s.io("create the directory of"))?;
    }
    write_atomic(s.storage, &s.path, content.as_bytes()).map_err(s.io("create"))?;
    done.after = format!("{} bytes (the default document)", content.len());
    Ok(())
}

fn make_unwritable_by_others(s: &Site, done: &mut Applied) -> Result<(), String> {
    let m = std::fs::symlink_metadata(&s.path).map_err(s.io("stat"))?;
    if !m.is_file() && !m.is_dir() {
        return Err("not a regular file or a directory any more: left as it is".into());
    }
    let mode = m.permissions().mode() & 0o7777;
    done.before = format!("mode {mode:04o}");
    std::fs::set_permissions(&s.path, std::fs::Permissions::from_mode(mode & 0o7755))
        .map_err(s.io("chmod"))?;
    done.after = format!("mode {:04o}", mode & 0o7755);
    Ok(())
}

fn make_writable(s: &Site, done: &mut Applied) -> Result<(), String> {
    let m = std::fs::symlink_metadata(&s.path).map_err(s.io("stat"))?;
    let mode = m.permissions().mode() & 0o7777;
    done.before = format!("mode {mode:04o}");
    std::fs::set_permissions(&s.path, std::fs::Permissions::from_mode(mode | 0o200))
        .map_err(s.io("chmod"))?;
    done.after = format!("mode {:04o}", mode | 0o200);
    Ok(())
}

/// Kill a leftover process group, unless the pid is gone or reused by another process.
fn kill(pid: i32, started: u64, done: &mut Applied) -> Result<(), String> {
    if start_time(pid) != Some(started) {
        done.before = format!("pid {pid} gone");
        done.after = "nothing to kill".into();
        return Ok(());
    }
    done.before = format!("pid {pid} running");
    let p = rustix::process::Pid::from_raw(pid).ok_or_else(|| format!("invalid pid {pid}"))?;
    let sig = rustix::process::Signal::KILL;
    if rustix::process::kill_process_group(p, sig).is_err() {
        rustix::process::kill_process(p, sig)
            .map_err(|err| format!("cannot kill pid {pid}: {err}"))?;
    }
    done.after = "process group killed".into();
    Ok(())
}
