//! Inotify, set up once: the services' heartbeat files (a change is a look at that service's
//! readiness and liveness), Ballast's own directories (one deleted or moved away is recreated
//! at once) and the declared artifacts (a change is a sweep soon). One descriptor, one thread;
//! what cannot be watched is still seen by the 100 ms tick or the periodic sweep.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::inotify;

use crate::main_loop::{Event, Waker};

/// What one watch descriptor's events mean.
#[derive(Default)]
struct Watched {
    /// (watch descriptor, file name in that directory, slot) of each heartbeat file.
    heartbeats: Vec<(i32, OsString, usize)>,
    /// The data directory and its `journal/`: a removal there is urgent.
    dirs: Vec<i32>,
    /// (watch descriptor, file name) of each declared artifact.
    artifacts: Vec<(i32, OsString)>,
}

/// Watch `heartbeats` (slot, file), the data directory with its `journal/`, and `artifacts`;
/// events go to the loop through `events` (dropped when its queue is full).
pub(crate) fn watch(
    data_dir: &Path,
    heartbeats: &[(usize, PathBuf)],
    artifacts: &[PathBuf],
    events: Waker,
    log: &mut dyn FnMut(&str),
) {
    let fd = match inotify::init(inotify::CreateFlags::CLOEXEC) {
        Ok(fd) => fd,
        Err(e) => {
            log(&format!(
                "inotify unavailable ({e}); heartbeat files are polled every 100 ms and the data directory is checked by the periodic sweep only"
            ));
            return;
        }
    };
    // MASK_ADD everywhere: a directory watched for two reasons keeps both masks.
    let add = |dir: &Path, flags: inotify::WatchFlags| {
        inotify::add_watch(&fd, dir, flags | inotify::WatchFlags::MASK_ADD)
    };
    let mut w = Watched::default();
    for (slot, file) in heartbeats {
        let (Some(dir), Some(name)) = (file.parent(), file.file_name()) else {
            continue;
        };
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let flags = inotify::WatchFlags::ATTRIB
            | inotify::WatchFlags::CLOSE_WRITE
            | inotify::WatchFlags::MODIFY
            | inotify::WatchFlags::CREATE
            | inotify::WatchFlags::MOVED_TO
            | inotify::WatchFlags::MOVED_FROM
            | inotify::WatchFlags::DELETE;
        match add(dir, flags) {
            Ok(wd) => w.heartbeats.push((wd, name.to_owned(), *slot)),
            Err(e) => log(&format!(
                "cannot watch {} ({e}); the heartbeat {} is polled every 100 ms",
                dir.display(),
                file.display()
            )),
        }
    }
    let dir_flags = inotify::WatchFlags::DELETE
        | inotify::WatchFlags::MOVED_FROM
        | inotify::WatchFlags::DELETE_SELF
        | inotify::WatchFlags::MOVE_SELF;
    for dir in [
        data_dir.to_path_buf(),
        ballast_store::Layout::new(data_dir).journals(),
    ] {
        match add(&dir, dir_flags) {
            Ok(wd) => w.dirs.push(wd),
            Err(e) => log(&format!(
                "cannot watch {} ({e}); it is checked by the periodic sweep",
                dir.display()
            )),
        }
    }
    // Declared artifacts: a write, a replacement or a deletion of one of them. Only events on
    // their names count (the directory may hold much else).
    let file_flags = dir_flags
        | inotify::WatchFlags::CLOSE_WRITE
        | inotify::WatchFlags::MOVED_TO
        | inotify::WatchFlags::CREATE;
    for a in artifacts {
        let (Some(dir), Some(name)) = (a.parent(), a.file_name()) else {
            continue;
        };
        match add(dir, file_flags) {
            Ok(wd) => w.artifacts.push((wd, name.to_owned())),
            Err(e) => log(&format!(
                "cannot watch {} ({e}); {} is checked by the periodic sweep",
                dir.display(),
                a.display()
            )),
        }
    }
    std::thread::spawn(move || {
        let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 4096];
        let mut reader = inotify::Reader::new(&fd, &mut buf);
        loop {
            let ev = match reader.next() {
                Ok(ev) => ev,
                Err(e) if e == rustix::io::Errno::INTR => continue,
                Err(_) => return,
            };
            for event in w.meaning(&ev) {
                if !events.offer(event) {
                    return;
                }
            }
        }
    });
}

impl Watched {
    /// The loop's events for one inotify event.
    fn meaning(&self, ev: &inotify::Event<'_>) -> Vec<Event> {
        use inotify::ReadFlags as R;
        let name = ev.file_name().map(|n| OsStr::from_bytes(n.to_bytes()));
        let named = |wd: i32, file: &OsString| wd == ev.wd() && Some(file.as_os_str()) == name;
        let mut out: Vec<Event> = self
            .heartbeats
            .iter()
            .filter(|(wd, file, _)| named(*wd, file))
            .map(|(_, _, slot)| Event::Heartbeat { slot: *slot })
            .collect();
        // Something of the data directory or its journal/ went away: now.
        let removal = ev
            .events()
            .intersects(R::DELETE | R::MOVED_FROM | R::DELETE_SELF | R::MOVE_SELF);
        let urgent = removal && self.dirs.contains(&ev.wd());
        // A declared file changed: soon.
        let declared = self.artifacts.iter().any(|(wd, file)| named(*wd, file));
        if urgent || declared {
            out.push(Event::Heal { urgent });
        }
        out
    }
}
