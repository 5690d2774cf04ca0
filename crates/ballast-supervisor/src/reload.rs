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
/// removed; each change is offered to the loop (dropped when its queue is full: the core
/// looks at the file at most every `CONFIG_CHECK_GAP` anyway). One thread, one descriptor.
pub(crate) fn watch_config_file(file: &Path, events: Waker, log: &mut dyn FnMut(&str)) {
    use rustix::fs::inotify;
    let (Some(dir), Some(name)) = (file.parent(), file.file_name()) else {
        return;
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
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
    let flags = inotify::WatchFlags::CLOSE_WRITE
        | inotify::WatchFlags::MOVED_TO
        | inotify::WatchFlags::CREATE
        | inotify::WatchFlags::DELETE
        | inotify::WatchFlags::MOVED_FROM;
    if let Err(e) = inotify::add_watch(&fd, dir, flags) {
        return log(&format!(
            "cannot watch {} ({e}); a change of {} is seen by `ballast reload` only",
            dir.display(),
            file.display()
        ));
    }
    let name = name.to_owned();
    std::thread::spawn(move || {
        let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 4096];
        let mut reader = inotify::Reader::new(&fd, &mut buf);
        loop {
            match reader.next() {
                Ok(ev) => {
                    let ours = ev
                        .file_name()
                        .is_some_and(|n| n.to_bytes() == name.as_encoded_bytes());
                    if ours && !events.offer(Event::ConfigFile) {
                        return;
                    }
                }
                Err(rustix::io::Errno::INTR) | Err(rustix::io::Errno::AGAIN) => {}
                Err(_) => return,
            }
        }
    });
}
