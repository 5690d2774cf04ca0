//! Atomic snapshots of a state, each recording the journal seq it covers.
//!
//! Written with the atomic recipe, through [`Storage`] so the crash harness checks it:
//! temp file in the same directory → `fdatasync` → rename over the target → fsync the
//! directory. A snapshot file is one framed record (see [`crate::record`]) of type
//! `snapshot` whose `seq` is the last journal seq it covers, so it carries a CRC32C too.
//!
//! A snapshot is bound to its journal: its body is `{"bound":{"crc":"<8 hex>"},"state":…}`,
//! the CRC32C of the journal record at the seq it covers. Recovery uses it only where the
//! journal has that very record (`ballast_core::recovery`). A body without `bound` was
//! written by an older Ballast and is never adopted.

use std::io;
use std::path::{Path, PathBuf};

use ballast_core::Clock;
use ballast_core::recovery::{SnapshotCheck, SnapshotFacts};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::bounded::ReadError;
use crate::layout::Layout;
use crate::limits::SNAPSHOT_MAX_BYTES;
use crate::quarantine::{Heal, Quarantine};
use crate::record::{self, LineError};
use crate::storage::Storage;

const KIND: &str = "snapshot";

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("cannot {op} snapshot {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot serialize the state for a snapshot: {0}")]
    Serialize(#[source] serde_json::Error),
    #[error(
        "snapshot {} is intact (checksum ok) but does not fit this build's state: {message}. \
         It was left in place; upgrade Ballast or move the file away to replay from the journal",
        path.display()
    )]
    Incompatible { path: PathBuf, message: String },
    #[error(
        "snapshot {} was written by a newer Ballast (format {found}); upgrade Ballast. Nothing was changed",
        path.display()
    )]
    NewerSchema { path: PathBuf, found: u32 },
}

fn io_err(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> SnapshotError + use<> {
    let path = path.to_path_buf();
    move |source| SnapshotError::Io { op, path, source }
}

type SnapshotListing = (Vec<(u64, String)>, Vec<String>);

/// Whether a snapshot's state JSON parses as the state type.
pub type StateCheck<'c> = dyn Fn(&str) -> Result<(), String> + 'c;

/// The snapshots of one named state (e.g. `engine`) in `state/`.
pub struct Snapshots<'a> {
    pub storage: &'a dyn Storage,
    pub layout: &'a Layout,
    pub clock: &'a dyn Clock,
    /// Name of the state: files are `<name>.snapshot.<seq, 20 digits>.json`.
    pub name: &'a str,
    /// How many snapshots to keep (at least 1).
    pub retain: usize,
}

/// A snapshot that was read back.
#[derive(Debug)]
pub struct Loaded<T> {
    /// `(seq covered, state)` of the newest valid snapshot, if any.
    pub newest: Option<(u64, T)>,
    /// Corrupt snapshots and interrupted writes moved to quarantine.
    pub heals: Vec<Heal>,
}

impl Snapshots<'_> {
    fn file_name(&self, seq: u64) -> String {
        format!("{}.snapshot.{seq:020}.json", self.name)
    }

    fn seq_of(&self, file: &str) -> Option<u64> {
        let digits = file
            .strip_prefix(self.name)?
            .strip_prefix(".snapshot.")?
            .strip_suffix(".json")?;
        (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
            .then(|| digits.parse().ok())
            .flatten()
    }

    fn is_temp(&self, file: &str) -> bool {
        file.starts_with(&format!(".{}.snapshot.", self.name)) && file.ends_with(".tmp")
    }

    /// `(seq, file name)` of every snapshot file, oldest first, and leftover temp files.
    fn list(&self) -> Result<SnapshotListing, SnapshotError> {
        let dir = self.layout.state();
        let names = match self.storage.list(&dir) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io_err("list", &dir)(e)),
        };
        let mut snaps: Vec<(u64, String)> = names
            .iter()
            .filter_map(|n| self.seq_of(n).map(|s| (s, n.clone())))
            .collect();
        snaps.sort();
        let temps = names.into_iter().filter(|n| self.is_temp(n)).collect();
        Ok((snaps, temps))
    }

    /// Durably write a snapshot of `state` covering journal records up to `seq`, bound to the
    /// journal record there (`crc`: its CRC32C, see [`crate::Journal::durable_record`]), then
    /// remove snapshots beyond the retention count. Returns the snapshot's path.
    pub fn write<T: Serialize + ?Sized>(
        &self,
        seq: u64,
        crc: u32,
        state: &T,
    ) -> Result<PathBuf, SnapshotError> {
        let body = serde_json::to_vec(&BoundBody {
            bound: Binding {
                crc: format!("{crc:08x}"),
            },
            state,
        })
        .map_err(SnapshotError::Serialize)?;
        let mut buf = Vec::with_capacity(body.len() + 160);
        record::encode(&mut buf, seq, self.clock.now(), KIND, &body);
        let dir = self.layout.state();
        self.storage
            .create_dir_all(&dir)
            .map_err(io_err("create directory for", &dir))?;
        let target = dir.join(self.file_name(seq));
        let tmp = crate::files::temp_beside(&target);
        let mut f = self
            .storage
            .create_truncate(&tmp)
            .map_err(io_err("create", &tmp))?;
        f.write_all(&buf).map_err(io_err("write", &tmp))?;
        f.sync_data().map_err(io_err("fdatasync", &tmp))?;
        drop(f);
        self.storage
            .rename(&tmp, &target)
            .map_err(io_err("rename into place", &target))?;
        self.storage
            .sync_dir(&dir)
            .map_err(io_err("fsync the directory of", &target))?;

        let (snaps, _) = self.list()?;
        let keep = self.retain.max(1);
        if snaps.len() > keep {
            for (old_seq, name) in &snaps[..snaps.len() - keep] {
                if *old_seq < seq {
                    let p = dir.join(name);
                    self.storage
                        .remove_file(&p)
                        .map_err(io_err("remove old", &p))?;
                }
            }
            self.storage
                .sync_dir(&dir)
                .map_err(io_err("fsync the directory of", &target))?;
        }
        Ok(target)
    }

    /// Read the newest valid snapshot. Corrupt ones (and leftovers of interrupted writes) are
    /// moved to quarantine and the next older one is tried: safe, the journal replay is
    /// simply longer. This does not check the binding to a journal: the engine's recovery
    /// decides with [`Self::facts`] and reads the chosen one with [`Self::read_state`].
    pub fn load<T: DeserializeOwned>(&self) -> Result<Loaded<T>, SnapshotError> {
        let (snaps, temps) = self.list()?;
        let dir = self.layout.state();
        let mut heals = Vec::new();
        let q = Quarantine {
            storage: self.storage,
            layout: self.layout,
            clock: self.clock,
        };
        let aside =
            |path: &Path, why: String, heals: &mut Vec<Heal>| -> Result<(), SnapshotError> {
                let moved = q
                    .move_aside(path)
                    .map_err(io_err("move to quarantine", path))?;
                heals.push(Heal {
                    component: "snapshot".into(),
                    action: format!("moved aside: {why}"),
                    path: self.layout.display(path),
                    quarantined: Some(self.layout.display(&moved)),
                    before: why,
                    after: "an older snapshot (or none) plus a longer journal replay is used"
                        .into(),
                });
                Ok(())
            };
        for t in temps {
            aside(
                &dir.join(&t),
                "leftover of an interrupted snapshot write".into(),
                &mut heals,
            )?;
        }
        for (seq, name) in snaps.iter().rev() {
            let path = dir.join(name);
            let data = match read_file(self.storage, &path).map_err(io_err("read", &path))? {
                Ok(d) => d,
                Err(why) => {
                    aside(&path, format!("damaged snapshot ({why})"), &mut heals)?;
                    continue;
                }
            };
            let problem = match validate(*seq, &data) {
                Validity::Valid(body) => {
                    return match serde_json::from_str::<T>(split_body(body).1) {
                        Ok(state) => Ok(Loaded {
                            newest: Some((*seq, state)),
                            heals,
                        }),
                        Err(e) => Err(SnapshotError::Incompatible {
                            path,
                            message: e.to_string(),
                        }),
                    };
                }
                Validity::Newer(found) => return Err(SnapshotError::NewerSchema { path, found }),
                Validity::Corrupt(problem) => problem,
            };
            aside(&path, format!("corrupt snapshot ({problem})"), &mut heals)?;
        }
        Ok(Loaded {
            newest: None,
            heals,
        })
    }
}

#[derive(Serialize)]
struct BoundBody<'a, T: ?Sized> {
    bound: Binding,
    state: &'a T,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Binding {
    crc: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BoundRaw<'a> {
    bound: Binding,
    #[serde(borrow)]
    state: &'a RawValue,
}

/// The journal CRC a snapshot body is bound to (`None`: an unbound body of an older Ballast)
/// and the state's JSON.
pub fn split_body(body: &str) -> (Option<u32>, &str) {
    match serde_json::from_str::<BoundRaw<'_>>(body) {
        Ok(b) => match u32::from_str_radix(&b.bound.crc, 16) {
            Ok(crc) if b.bound.crc.len() == 8 => (Some(crc), b.state.get()),
            _ => (None, body),
        },
        Err(_) => (None, body),
    }
}

enum Validity<'a> {
    Valid(&'a str),
    Corrupt(String),
    Newer(u32),
}

/// Check a snapshot file's bytes against the seq in its name.
fn validate(seq: u64, data: &[u8]) -> Validity<'_> {
    let line = data.strip_suffix(b"\n").unwrap_or(data);
    match record::decode(line) {
        Ok(rec) if rec.kind != KIND => {
            Validity::Corrupt(format!("record type {:?} is not a snapshot", rec.kind))
        }
        Ok(rec) if rec.seq != seq => {
            Validity::Corrupt(format!("covers seq {} but is named for seq {seq}", rec.seq))
        }
        Ok(_) if data.last() != Some(&b'\n') => {
            Validity::Corrupt("not terminated by a newline".to_owned())
        }
        Ok(rec) => Validity::Valid(rec.body.get()),
        Err(LineError::NewerSchema { found }) => Validity::Newer(found),
        Err(LineError::Corrupt(reason)) => Validity::Corrupt(reason),
    }
}

/// The state of one snapshot file, for `ballast journal verify`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SnapshotStatus {
    pub file: String,
    /// Seq covered, from the file name (`None` for a leftover temp file).
    pub seq: Option<u64>,
    /// What is wrong with it, if anything.
    pub problem: Option<String>,
    /// Written by a newer Ballast (a schema problem, not damage).
    pub newer: bool,
}

/// A snapshot file's bytes, at most [`SNAPSHOT_MAX_BYTES`]; `Ok(Err(why))` when it is over
/// that bound or not a regular file (a link, a FIFO, a device put in its place): that is a
/// damaged snapshot, reported and moved aside like a corrupt one, never read (or read through).
fn read_file(
    storage: &dyn Storage,
    path: &Path,
) -> Result<Result<Vec<u8>, String>, std::io::Error> {
    match storage.read_bounded(path, SNAPSHOT_MAX_BYTES) {
        Ok(d) => Ok(Ok(d)),
        Err(e @ (ReadError::TooLarge { .. } | ReadError::NotRegular { .. })) => {
            Ok(Err(e.to_string()))
        }
        Err(ReadError::NotFound { .. }) => Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("{} does not exist", path.display()),
        )),
        Err(ReadError::Io { source, .. }) => Err(source),
    }
}

impl Snapshots<'_> {
    /// Check every snapshot file without changing anything, newest first.
    pub fn inspect(&self) -> Result<Vec<SnapshotStatus>, SnapshotError> {
        let (snaps, temps) = self.list()?;
        let dir = self.layout.state();
        let mut out = Vec::new();
        for (seq, name) in snaps.iter().rev() {
            let path = dir.join(name);
            let data = match read_file(self.storage, &path).map_err(io_err("read", &path))? {
                Ok(d) => d,
                Err(why) => {
                    out.push(SnapshotStatus {
                        file: name.clone(),
                        seq: Some(*seq),
                        problem: Some(why),
                        newer: false,
                    });
                    continue;
                }
            };
            let (problem, newer) = match validate(*seq, &data) {
                Validity::Valid(_) => (None, false),
                Validity::Corrupt(p) => (Some(format!("corrupt: {p}")), false),
                Validity::Newer(found) => (
                    Some(format!("written by a newer Ballast (format {found})")),
                    true,
                ),
            };
            out.push(SnapshotStatus {
                file: name.clone(),
                seq: Some(*seq),
                problem,
                newer,
            });
        }
        for t in temps {
            out.push(SnapshotStatus {
                file: t,
                seq: None,
                problem: Some("leftover of an interrupted snapshot write".into()),
                newer: false,
            });
        }
        Ok(out)
    }

    /// What recovery needs to know of every snapshot file, newest first, without changing
    /// anything. `fits` checks that a state parses in this build (`None`: not checked).
    pub fn facts(
        &self,
        fits: Option<&StateCheck<'_>>,
    ) -> Result<Vec<SnapshotFacts>, SnapshotError> {
        let (snaps, temps) = self.list()?;
        let dir = self.layout.state();
        let mut out = Vec::new();
        for (seq, name) in snaps.iter().rev() {
            let path = dir.join(name);
            let data = match read_file(self.storage, &path) {
                Ok(Ok(d)) => d,
                Ok(Err(why)) => {
                    out.push(SnapshotFacts {
                        file: self.layout.display(&path),
                        seq: Some(*seq),
                        engine: fits.is_some(),
                        check: SnapshotCheck::Corrupt { problem: why },
                    });
                    continue;
                }
                // Pruned by the running engine's retention since the listing: not there.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_err("read", &path)(e)),
            };
            let check = match validate(*seq, &data) {
                Validity::Valid(body) => {
                    let (bound, state) = split_body(body);
                    SnapshotCheck::Intact {
                        bound,
                        unfit: fits.and_then(|f| f(state).err()),
                    }
                }
                Validity::Corrupt(problem) => SnapshotCheck::Corrupt { problem },
                Validity::Newer(found) => SnapshotCheck::Newer { found },
            };
            out.push(SnapshotFacts {
                file: self.layout.display(&path),
                seq: Some(*seq),
                engine: fits.is_some(),
                check,
            });
        }
        for t in temps {
            out.push(SnapshotFacts {
                file: self.layout.display(&dir.join(t)),
                seq: None,
                engine: false,
                check: SnapshotCheck::Temp,
            });
        }
        Ok(out)
    }

    /// The state of the snapshot covering `seq` (one [`Self::facts`] found usable).
    pub fn read_state<T: DeserializeOwned>(&self, seq: u64) -> Result<T, SnapshotError> {
        let path = self.layout.state().join(self.file_name(seq));
        let data = read_file(self.storage, &path)
            .map_err(io_err("read", &path))?
            .map_err(|why| {
                io_err("read", &path)(io::Error::new(io::ErrorKind::InvalidData, why))
            })?;
        match validate(seq, &data) {
            Validity::Valid(body) => serde_json::from_str::<T>(split_body(body).1).map_err(|e| {
                SnapshotError::Incompatible {
                    path,
                    message: e.to_string(),
                }
            }),
            Validity::Newer(found) => Err(SnapshotError::NewerSchema { path, found }),
            Validity::Corrupt(message) => Err(SnapshotError::Incompatible { path, message }),
        }
    }
}
