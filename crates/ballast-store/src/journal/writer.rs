//! The durable appender with group commit.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use ballast_core::Clock;
use serde::Serialize;

use super::error::{FailInfo, IoOp, JournalError};
use super::segment;
use crate::record::{self, valid_kind};
use crate::storage::{Storage, StorageFile};

/// Bytes of framing around a body (`{"v":1,"seq":…,"crc":"…"}` and the newline), at most.
const FRAMING_BYTES: usize = 160;

/// Limits of a journal writer (from `[journal]` in the config).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JournalOptions {
    /// Roll to a new segment once the current one reaches this size.
    pub segment_max_bytes: u64,
    /// Largest framed record.
    pub max_record_bytes: u64,
    /// Bound of the group-commit buffer; appenders wait while it is full.
    pub max_pending_bytes: u64,
}

impl Default for JournalOptions {
    fn default() -> Self {
        JournalOptions {
            segment_max_bytes: 64 << 20,
            max_record_bytes: 1 << 20,
            max_pending_bytes: 8 << 20,
        }
    }
}

impl From<&ballast_core::config::Journal> for JournalOptions {
    fn from(c: &ballast_core::config::Journal) -> Self {
        JournalOptions {
            segment_max_bytes: c.segment_max_bytes,
            max_record_bytes: c.max_record_bytes,
            max_pending_bytes: c.max_pending_bytes,
        }
    }
}

pub(super) struct Tail {
    pub(super) file: Box<dyn StorageFile>,
    pub(super) path: PathBuf,
    pub(super) bytes: u64,
}

struct State {
    next_seq: u64,
    durable_seq: u64,
    pending: Vec<u8>,
    spare: Vec<u8>,
    leader_active: bool,
    failure: Option<FailInfo>,
    tail: Option<Tail>,
}

struct Shared {
    storage: Arc<dyn Storage>,
    dir: PathBuf,
    clock: Arc<dyn Clock>,
    opts: JournalOptions,
    state: Mutex<State>,
    cond: Condvar,
}

/// A handle to an open journal. Cheap to clone; all clones append to the same journal.
#[derive(Clone)]
pub struct Journal {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("dir", &self.shared.dir)
            .field("durable_seq", &self.durable_seq())
            .finish()
    }
}

impl Journal {
    pub(super) fn start(
        storage: Arc<dyn Storage>,
        dir: PathBuf,
        clock: Arc<dyn Clock>,
        opts: JournalOptions,
        last_seq: u64,
        tail: Tail,
    ) -> Journal {
        Journal {
            shared: Arc::new(Shared {
                storage,
                dir,
                clock,
                opts,
                state: Mutex::new(State {
                    next_seq: last_seq + 1,
                    durable_seq: last_seq,
                    pending: Vec::new(),
                    spare: Vec::new(),
                    leader_active: false,
                    failure: None,
                    tail: Some(tail),
                }),
                cond: Condvar::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The directory of this journal.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// The last seq known durable.
    pub fn durable_seq(&self) -> u64 {
        self.lock().durable_seq
    }

    /// Bytes queued for the next group commit (waiting for the current leader's sync).
    pub fn queued_bytes(&self) -> usize {
        self.lock().pending.len()
    }

    /// Why the writer is refusing, if it is.
    pub fn failure(&self) -> Option<FailInfo> {
        self.lock().failure.clone()
    }

    /// Durably append one record; returns its seq once it is on disk.
    pub fn append<T: Serialize + ?Sized>(&self, kind: &str, body: &T) -> Result<u64, JournalError> {
        self.append_many(std::iter::once((kind, body)))
    }

    /// Durably append several records with consecutive seqs (one sync); returns the last seq.
    pub fn append_many<'a, T, I>(&self, items: I) -> Result<u64, JournalError>
    where
        T: Serialize + ?Sized + 'a,
        I: IntoIterator<Item = (&'a str, &'a T)>,
    {
        let max = self.shared.opts.max_record_bytes;
        let mut bodies: Vec<(&str, Vec<u8>)> = Vec::new();
        for (kind, body) in items {
            if !valid_kind(kind) {
                return Err(JournalError::InvalidKind(kind.chars().take(80).collect()));
            }
            let bytes = serde_json::to_vec(body).map_err(|source| JournalError::Serialize {
                kind: kind.to_owned(),
                source,
            })?;
            let framed = bytes.len() + kind.len() + FRAMING_BYTES;
            if framed as u64 > max {
                return Err(JournalError::RecordTooLarge {
                    kind: kind.to_owned(),
                    bytes: framed,
                    max,
                });
            }
            bodies.push((kind, bytes));
        }
        let needed: usize = bodies
            .iter()
            .map(|(k, b)| b.len() + k.len() + FRAMING_BYTES)
            .sum();

        let shared = &*self.shared;
        let mut st = self.lock();
        // Bound the group-commit buffer: wait while it is full (an oversized batch waits until
        // the buffer is empty and then goes alone).
        while st.failure.is_none()
            && !st.pending.is_empty()
            && (st.pending.len() + needed) as u64 > shared.opts.max_pending_bytes
        {
            st = shared.cond.wait(st).unwrap_or_else(PoisonError::into_inner);
        }
        if let Some(f) = &st.failure {
            return Err(JournalError::WriteFailed(f.clone()));
        }
        if bodies.is_empty() {
            return Ok(st.durable_seq);
        }
        let now = shared.clock.now();
        for (kind, body) in &bodies {
            let seq = st.next_seq;
            st.next_seq += 1;
            record::encode(&mut st.pending, seq, now, kind, body);
        }
        let my_last = st.next_seq - 1;

        loop {
            if st.durable_seq >= my_last {
                return Ok(my_last);
            }
            if let Some(f) = &st.failure {
                return Err(JournalError::WriteFailed(f.clone()));
            }
            if st.leader_active {
                st = shared.cond.wait(st).unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            // Become the leader: take everything queued, write and sync it without the lock.
            st.leader_active = true;
            let spare = std::mem::take(&mut st.spare);
            let mut batch = std::mem::replace(&mut st.pending, spare);
            let batch_last = st.next_seq - 1;
            let mut tail = st.tail.take();
            drop(st);
            shared.cond.notify_all(); // the buffer has room again
            let result = shared.flush(&mut tail, &batch, batch_last);
            st = self.lock();
            st.tail = tail;
            batch.clear();
            st.spare = batch;
            match result {
                Ok(()) => st.durable_seq = batch_last,
                Err((durable, info)) => {
                    if durable {
                        st.durable_seq = batch_last;
                    }
                    st.failure = Some(info);
                }
            }
            st.leader_active = false;
            shared.cond.notify_all();
        }
    }
}

impl Shared {
    /// Write and sync one batch; roll the segment if it is full. On error, says whether the
    /// batch itself was made durable before the failure.
    fn flush(
        &self,
        tail: &mut Option<Tail>,
        batch: &[u8],
        batch_last: u64,
    ) -> Result<(), (bool, FailInfo)> {
        let Some(t) = tail.as_mut() else {
            let e = std::io::Error::other("journal has no open segment");
            return Err((false, FailInfo::new(IoOp::Write, self.dir.clone(), &e)));
        };
        t.file
            .write_all(batch)
            .map_err(|e| (false, FailInfo::new(IoOp::Write, t.path.clone(), &e)))?;
        t.file
            .sync_data()
            .map_err(|e| (false, FailInfo::new(IoOp::Sync, t.path.clone(), &e)))?;
        t.bytes += batch.len() as u64;
        if t.bytes >= self.opts.segment_max_bytes {
            let path = self.dir.join(segment::name(batch_last + 1));
            let file = self
                .storage
                .create_new(&path)
                .map_err(|e| (true, FailInfo::new(IoOp::CreateSegment, path.clone(), &e)))?;
            // The new segment must be durable in the directory before any record in it is
            // acknowledged.
            self.storage
                .sync_dir(&self.dir)
                .map_err(|e| (true, FailInfo::new(IoOp::SyncDir, self.dir.clone(), &e)))?;
            *tail = Some(Tail {
                file,
                path,
                bytes: 0,
            });
        }
        Ok(())
    }
}
