//! The shell's half of a reload (`ballast reload`, SIGHUP): the configuration file read again
//! by the reader `ballast run` handed over (the same file, the same environment rules, every
//! error), given to the core, and an applied plan carried out where only the shell can — the
//! healer's configuration, the monitor's thread (woken at once), notify sockets for new services, the
//! engine's settings file.

use std::path::Path;
use std::sync::Arc;

use ballast_core::config::Config;

use crate::core::{Input, Loaded, Reload};
use crate::main_loop::{Event, Shell, Waker};

impl Shell {
    /// Read the configuration again and hand it to the core (`token`: the operator's reply).
    pub(crate) fn reload(
        &mut self,
        token: Option<crate::core::Token>,
        dry_run: bool,
        by: &'static str,
        approval: Option<String>,
        log: &mut dyn FnMut(&str),
    ) {
        let reload = Reload {
            token,
            dry_run,
            by,
            loaded: self.read_config(),
            approval,
        };
        self.handle(Input::Reload(Box::new(reload)), log);
    }

    /// The configuration file as it is now: validated, or every error.
    pub(crate) fn read_config(&self) -> Result<Box<Loaded>, Vec<String>> {
        match &self.heal.reloader {
            Some(reader) => (reader.read)().map(Box::new),
            None => Err(vec![
                "this supervisor has no configuration reader (it was not started by `ballast run`): restart it to change its configuration".to_owned(),
            ]),
        }
    }

    /// An applied reload: the healer sweeps with `config` from now on, the monitor's thread
    /// takes it at once (its wait ends), and a new service that signals readiness gets its socket.
    pub(crate) fn reconfigure(&mut self, config: Config, log: &mut dyn FnMut(&str)) {
        self.heal.sweep = std::time::Duration::from_secs(u64::from(config.heal.sweep_secs));
        self.alerts.reconfigure(&config);
        let config = Arc::new(config);
        // The monitor's thread wakes at once (a lowered cycle is the pace from now).
        self.monitor_config.offer(Arc::clone(&config));
        self.heal.config = (*config).clone();
        // The engine starts from the configuration in force, not from the file on disk.
        let in_force =
            ballast_core::config::in_force::InForce::new(self.core.config_hash(), &config);
        let layout = ballast_store::Layout::new(&self.data_dir);
        if let Err(e) = ballast_store::files::engine_config::write(
            &ballast_store::RealStorage,
            &layout,
            &in_force,
        ) {
            log(&format!(
                "WARNING: reload: {e}; an engine started from now on would run the configuration of the last write"
            ));
        }
        self.watch_new_files(log);
        let unbound: Vec<crate::ServiceSpec> = self
            .core
            .specs()
            .filter(|s| s.notify && !self.launcher.notify_sockets.contains_key(&s.name))
            .cloned()
            .collect();
        if unbound.is_empty() {
            return;
        }
        let run_dir = ballast_store::Layout::new(&self.data_dir).run();
        match crate::readiness::bind_notify(&run_dir, &unbound, &self.events, log) {
            Ok(sockets) => self.launcher.notify_sockets.extend(sockets),
            Err(e) => log(&format!(
                "reload: {e}; the new service(s) that signal readiness by sd_notify cannot become RUNNING"
            )),
        }
    }
}

impl Shell {
    /// The heartbeat files of new or changed services and the new declared files, watched by
    /// inotify like those of the start (by one more watcher, at most
    /// `RELOAD_WATCHERS_COUNT` over the supervisor's life).
    fn watch_new_files(&mut self, log: &mut dyn FnMut(&str)) {
        let heartbeats: Vec<(usize, std::path::PathBuf)> = self
            .core
            .specs()
            .enumerate()
            .filter_map(|(i, s)| Some((i, s.heartbeat_file.clone()?)))
            .filter(|(i, p)| !self.watched.contains(&(Some(*i), p.clone())))
            .collect();
        let artifacts: Vec<std::path::PathBuf> =
            crate::main_loop::watched_artifacts(&self.data_dir, &self.heal, &*self.clock)
                .into_iter()
                .filter(|p| !self.watched.contains(&(None, p.clone())))
                .collect();
        if heartbeats.is_empty() && artifacts.is_empty() {
            return;
        }
        if self.reload_watches >= crate::limits::RELOAD_WATCHERS_COUNT {
            return log(&format!(
                "reload: {} new file(s) to watch, but reloads added {} watchers already (the limit): they are seen by the 100 ms tick and the periodic sweep",
                heartbeats.len() + artifacts.len(),
                self.reload_watches
            ));
        }
        self.reload_watches += 1;
        self.watched.extend(
            heartbeats
                .iter()
                .map(|(i, p)| (Some(*i), p.clone()))
                .chain(artifacts.iter().map(|p| (None, p.clone()))),
        );
        crate::watch::watch(
            &self.data_dir,
            &heartbeats,
            &artifacts,
            self.events.clone(),
            log,
        );
    }
}

/// Watch `file`'s directory for the file being written, replaced (an editor's rename) or
/// removed — and, when `file` is a symbolic link, the directory of the file it resolves to
/// (an edit of the target is not seen in the link's directory); a link replaced to point
/// elsewhere is followed (the old target's watch dropped, the new one's added). Each change
/// is offered to the loop (dropped when its queue is full: the core looks at the file at
/// most every `CONFIG_CHECK_GAP` anyway). One thread, one descriptor.
pub(crate) fn watch_config_file(file: &Path, events: Waker, log: &mut dyn FnMut(&str)) {
    use rustix::fs::inotify;
    let Some((dir, name)) = dir_and_name(file) else {
        return;
    };
    let fd = match inotify::init(inotify::CreateFlags::CLOEXEC) {
        Ok(fd) => fd,
        Err(e) => {
            return log(&format!(
                "inotify unavailable ({e}); a change of {} is seen by `ballast reload` only",
                file.display()
            ));
        }
    };
    let link = match inotify::add_watch(&fd, &dir, watch_flags()) {
        Ok(wd) => (wd, name),
        Err(e) => {
            return log(&format!(
                "cannot watch {} ({e}); a change of {} is seen by `ballast reload` only",
                dir.display(),
                file.display()
            ));
        }
    };
    let file = file.to_owned();
    let mut target = follow(&fd, &file, link.0, None, log);
    std::thread::spawn(move || {
        let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 4096];
        let mut reader = inotify::Reader::new(&fd, &mut buf);
        loop {
            let (wd, named) = match reader.next() {
                Ok(ev) => (ev.wd(), ev.file_name().map(|n| n.to_bytes().to_vec())),
                Err(rustix::io::Errno::INTR) | Err(rustix::io::Errno::AGAIN) => continue,
                Err(_) => return,
            };
            let is = |w: &(i32, std::ffi::OsString)| {
                w.0 == wd && named.as_deref() == Some(w.1.as_encoded_bytes())
            };
            let of_link = is(&link);
            if !of_link && !target.as_ref().is_some_and(|t| is(&t.watch)) {
                continue;
            }
            if of_link {
                // The link may point elsewhere now.
                target = follow(&fd, &file, link.0, target.take(), &mut |_| {});
            }
            if !events.offer(Event::ConfigFile) {
                return;
            }
        }
    });
}

/// The watch of a link's target: its directory's descriptor and the target's name there, and
/// the resolved path (to tell a replaced link).
struct Target {
    watch: (i32, std::ffi::OsString),
    path: std::path::PathBuf,
}

fn watch_flags() -> rustix::fs::inotify::WatchFlags {
    use rustix::fs::inotify::WatchFlags;
    WatchFlags::CLOSE_WRITE
        | WatchFlags::MOVED_TO
        | WatchFlags::CREATE
        | WatchFlags::DELETE
        | WatchFlags::MOVED_FROM
        | WatchFlags::MASK_ADD
}

fn dir_and_name(file: &Path) -> Option<(std::path::PathBuf, std::ffi::OsString)> {
    let (dir, name) = (file.parent()?, file.file_name()?);
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    Some((dir.to_owned(), name.to_owned()))
}

/// `file`'s target watched where it lives, if `file` resolves to a file elsewhere than its
/// own directory entry; `old` (the previous target) kept if unchanged, else its watch
/// dropped (never the link directory's own, `link_wd`).
fn follow(
    fd: &rustix::fd::OwnedFd,
    file: &Path,
    link_wd: i32,
    old: Option<Target>,
    log: &mut dyn FnMut(&str),
) -> Option<Target> {
    use rustix::fs::inotify;
    let resolved = std::fs::canonicalize(file).ok();
    let own = file
        .parent()
        .and_then(|d| std::fs::canonicalize(d).ok())
        .zip(file.file_name())
        .map(|(d, n)| d.join(n));
    let resolved = resolved.filter(|r| Some(r) != own.as_ref());
    if let Some(old) = old {
        if resolved.as_ref() == Some(&old.path) {
            return Some(old);
        }
        if old.watch.0 != link_wd {
            let _ = inotify::remove_watch(fd, old.watch.0);
        }
    }
    let path = resolved?;
    let (dir, name) = dir_and_name(&path)?;
    match inotify::add_watch(fd, &dir, watch_flags()) {
        Ok(wd) => Some(Target {
            watch: (wd, name),
            path,
        }),
        Err(e) => {
            log(&format!(
                "cannot watch {} ({e}), where the configuration link {} points: an edit there is seen by `ballast reload` only",
                dir.display(),
                file.display()
            ));
            None
        }
    }
}
