//! The files two processes share (`ballast_store::files`, one type each): each read by its own
//! reader through [`ballast_store::Storage::read_bounded`], and what reads is written by the
//! type's own writer and must read back the same. The lock file's line too.

use std::fmt::Debug;
use std::path::PathBuf;

use ballast_store::files::{
    self, FileError, disabled, engine_config, engine_settings, health, heartbeat, kill_switch,
    lock::LockFile, policy, reconcile_choice,
};
use ballast_store::{Layout, Storage};

use crate::journal::sim_layout;
use crate::select;

/// One shared file's reader and writer, over a [`SimStorage`].
pub struct FileKind {
    pub name: &'static str,
    /// Where the file lives in a data directory.
    pub path: fn(&Layout) -> PathBuf,
    /// The most its reader reads (a larger file is refused).
    pub limit: u64,
    /// Read it; on success write what was read with the type's writer and read that back: the
    /// two reads must be equal (`Ok(None)` if the file did not read).
    pub round_trip: fn(&dyn Storage, &Layout) -> Result<Option<String>, FileError>,
}

/// `read`, then `write` of what it read, then `read` again: equal, or the difference.
fn again<T: PartialEq + Debug>(
    sim: &dyn Storage,
    layout: &Layout,
    read: impl Fn(&dyn Storage, &Layout) -> Result<T, FileError>,
    write: impl Fn(&dyn Storage, &Layout, &T) -> Result<(), String>,
) -> Result<Option<String>, FileError> {
    let first = read(sim, layout)?;
    write(sim, layout, &first).map_err(|e| FileError::Invalid {
        path: PathBuf::new(),
        what: "a file written back",
        detail: e,
        help: "",
    })?;
    let second = read(sim, layout)?;
    Ok((first != second).then(|| format!("{first:?}\n  !=\n{second:?}")))
}

fn words<E: ToString>(r: Result<(), E>) -> Result<(), String> {
    r.map_err(|e| e.to_string())
}

/// Every shared JSON file of [`ballast_store::files`].
pub const KINDS: &[FileKind] = &[
    FileKind {
        name: "heartbeat",
        path: Layout::heartbeat,
        limit: heartbeat::MAX_BYTES,
        round_trip: |s, l| {
            again(
                s,
                l,
                |s, l| heartbeat::read(s, l),
                |s, l, x| words(heartbeat::write(s, l, x)),
            )
        },
    },
    FileKind {
        name: "policy",
        path: Layout::policy_file,
        limit: ballast_core::limits::POLICY_FILE_MAX_BYTES,
        round_trip: |s, l| {
            again(
                s,
                l,
                |s, l| policy::read(s, l),
                |s, l, x| words(policy::write(s, l, x)),
            )
        },
    },
    FileKind {
        name: "kill_switch",
        path: Layout::kill_switch,
        limit: ballast_core::limits::MAX_FILE_BYTES,
        round_trip: |s, l| {
            again(
                s,
                l,
                |s, l| kill_switch::read(s, l),
                |s, l, x| words(kill_switch::write(s, l, x)),
            )
        },
    },
    FileKind {
        name: "kill_switch_release",
        path: Layout::kill_switch_release,
        limit: ballast_core::limits::MAX_FILE_BYTES,
        round_trip: |s, l| {
            again(
                s,
                l,
                |s, l| kill_switch::read_release(s, l),
                |s, l, x| words(kill_switch::write_release(s, l, x)),
            )
        },
    },
    FileKind {
        name: "health",
        path: Layout::health_report,
        limit: ballast_core::limits::MAX_FILE_BYTES,
        round_trip: |s, l| {
            again(
                s,
                l,
                |s, l| health::read(s, l),
                |s, l, x| words(health::write(s, l, x)),
            )
        },
    },
    FileKind {
        name: "disabled",
        path: Layout::disabled_file,
        limit: ballast_core::limits::MAX_FILE_BYTES,
        round_trip: |s, l| {
            again(
                s,
                l,
                |s, l| disabled::read(s, l),
                |s, l, x| words(disabled::write(s, l, x)),
            )
        },
    },
    FileKind {
        name: "engine_config",
        path: Layout::engine_config_file,
        limit: ballast_core::limits::ENGINE_CONFIG_FILE_MAX_BYTES,
        round_trip: |s, l| {
            again(
                s,
                l,
                |s, l| engine_config::read(s, l),
                |s, l, x| engine_config::write(s, l, x),
            )
        },
    },
    FileKind {
        name: "engine_settings",
        path: Layout::engine_settings_file,
        limit: ballast_core::limits::ENGINE_SETTINGS_FILE_MAX_BYTES,
        round_trip: |s, l| {
            again(
                s,
                l,
                |s, l| engine_settings::read(s, l),
                |s, l, x| words(engine_settings::write(s, l, x)),
            )
        },
    },
    FileKind {
        name: "reconcile_choice",
        path: Layout::reconcile_choice_file,
        limit: ballast_core::limits::RECONCILE_CHOICE_FILE_MAX_BYTES,
        round_trip: |s, l| {
            again(
                s,
                l,
                |s, l| reconcile_choice::read(s, l),
                |s, l, x| {
                    words(reconcile_choice::remove(s, l))?;
                    words(reconcile_choice::write_new(s, l, x))
                },
            )
        },
    },
];

/// The bytes of one shared file (the selector picks which), read by its reader; what reads
/// must read the same once written back by its writer. The selector's other values read the
/// text as a lock file's line.
pub fn shared(data: &[u8]) {
    let (sel, rest) = select(data);
    let Some(kind) = KINDS.get(usize::from(sel) % (KINDS.len() + 1)) else {
        lock_line(rest);
        return;
    };
    let (sim, layout) = sim_layout();
    let path = (kind.path)(&layout);
    if files::write_atomic(sim.as_ref(), &path, rest).is_err() {
        return;
    }
    match (kind.round_trip)(sim.as_ref(), &layout) {
        Ok(Some(diff)) => panic!("{} does not read back as written:\n{diff}", kind.name),
        Ok(None) => {}
        Err(e) => {
            let shown = e.to_string();
            assert!(!shown.is_empty());
            if rest.len() as u64 > kind.limit {
                assert!(
                    matches!(
                        e,
                        FileError::Read(ballast_store::bounded::ReadError::TooLarge { .. })
                    ),
                    "{}: a file over its limit was not refused as too large: {shown}",
                    kind.name
                );
            }
        }
    }
}

/// A lock file's text: what it says about a pid reads back through its line.
fn lock_line(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let held = LockFile::parse(&text);
    let _ = held.describe();
    if held.pid.is_some() {
        assert_eq!(LockFile::parse(&held.line()), held, "lock line round trip");
    }
}
