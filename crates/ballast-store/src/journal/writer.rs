//! The durable appender with group commit.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use ballast_core::Clock;
use serde::Serialize;

use super::error::{FailInfo, IoOp, JournalError};
use super::segment;
use crate::limits::{
    GATHER_MAX_APPENDERS_COUNT, GATHER_MAX_WAIT_US, INVALID_KIND_SHOWN_CHARS,
    RECORD_FRAMING_MAX_BYTES,
};
use crate::record::{self, valid_kind};
use crate::storage::{Storage, StorageFile};

/// Longest a leader waits to gather more records before it syncs.
const MAX_GATHER: Duration = Duration::from_micros(GATHER_MAX_WAIT_US);

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
    /// CRC32C of the record at `durable_seq` (`None`: empty journal).
    durable_crc: Option<u32>,
    /// CRC32C of the last record queued in `pending`.
    pending_crc: Option<u32>,
    pending: Vec<u8>,
    /// Append calls with records in `pending`.
    pending_appenders: usize,
    /// Append calls in the last synced batch, and how long its write + sync took: the group
    /// commit's estimate of how many appenders are active and what waiting for them costs.
    last_batch_appenders: usize,
    last_flush: Duration,
    /// Every batch's write + sync duration (the metrics' journal fsync latency; fixed buckets).
    sync_latency: ballast_core::engine::Histogram,
    /// While a leader gathers: how many appenders it waits for (0 = not gathering).
    gather_target: usize,
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
    /// Wakes a gathering leader when a record is queued.
    gather: Condvar,
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
        last_crc: Option<u32>,
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
                    durable_crc: last_crc,
                    pending_crc: None,
                    pending: Vec::new(),
                    pending_appenders: 0,
                    last_batch_appenders: 0,
                    last_flush: Duration::ZERO,
                    sync_latency: Default::default(),
                    gather_target: 0,
                    spare: Vec::new(),
                    leader_active: false,
                    failure: None,
                    tail: Some(tail),
                }),
                cond: Condvar::new(),
                gather: Condvar::new(),
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

    /// The last durable seq and the CRC32C of its record: what a snapshot covering that seq
    /// binds itself to (`None`: nothing written yet).
    pub fn durable_record(&self) -> Option<(u64, u32)> {
        let st = self.lock();
        st.durable_crc.map(|c| (st.durable_seq, c))
    }

    /// Bytes queued for the next group commit (waiting for the current leader's sync).
    pub fn queued_bytes(&self) -> usize {
        self.lock().pending.len()
    }

    /// The write + sync latency of every batch since the journal was opened.
    pub fn sync_latency(&self) -> ballast_core::engine::Histogram {
        self.lock().sync_latency.clone()
    }

    /// Why the writer is refusing, if it is.
    pub fn failure(&self) -> Option<FailInfo> {
        self.lock().failure.clone()
    }

    /// Durably append one record; returns its seq once it is on disk.
    pub fn append<T: Serialize + ?Sized>(&self, kind: &str, body: &T) -> Result<u64, JournalError> {
        self.append_many(std::iter::once((kind, body)))
    }

    /// Durably append one record; returns its seq and CRC32C (what a snapshot covering it
    /// binds to) once it is on disk.
    pub fn append_record<T: Serialize + ?Sized>(
        &self,
        kind: &str,
        body: &T,
    ) -> Result<(u64, u32), JournalError> {
        self.append_inner(std::iter::once((kind, body)))
            .map(|(seq, crc)| (seq, crc.unwrap_or(0)))
    }

    /// Durably append several records with consecutive seqs (one sync); returns the last seq.
    pub fn append_many<'a, T, I>(&self, items: I) -> Result<u64, JournalError>
    where
        T: Serialize + ?Sized + 'a,
        I: IntoIterator<Item = (&'a str, &'a T)>,
    {
        self.append_inner(items).map(|(seq, _)| seq)
    }

    fn append_inner<'a, T, I>(&self, items: I) -> Result<(u64, Option<u32>), JournalError>
    where
        T: Serialize + ?Sized + 'a,
        I: IntoIterator<Item = (&'a str, &'a T)>,
    {
        let max = self.shared.opts.max_record_bytes;
        let mut bodies: Vec<(&str, Vec<u8>)> = Vec::new();
        for (kind, body) in items {
            if !valid_kind(kind) {
                return Err(JournalError::InvalidKind(
                    kind.chars().take(INVALID_KIND_SHOWN_CHARS).collect(),
                ));
            }
            let bytes = serde_json::to_vec(body).map_err(|source| JournalError::Serialize {
                kind: kind.to_owned(),
                source,
            })?;
            let framed = bytes.len() + kind.len() + RECORD_FRAMING_MAX_BYTES;
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
            .map(|(k, b)| b.len() + k.len() + RECORD_FRAMING_MAX_BYTES)
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
            return Ok((st.durable_seq, st.durable_crc));
        }
        let now = shared.clock.now();
        for (kind, body) in &bodies {
            let seq = st.next_seq;
            st.next_seq += 1;
            let crc = record::encode(&mut st.pending, seq, now, kind, body);
            st.pending_crc = Some(crc);
        }
        st.pending_appenders += 1;
        let my_last = st.next_seq - 1;
        let my_crc = st.pending_crc;
        if st.gather_target > 0 && st.pending_appenders >= st.gather_target {
            shared.gather.notify_one();
        }

        loop {
            if st.durable_seq >= my_last {
                return Ok((my_last, my_crc));
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
            st = shared.gather_more(st);
            let spare = std::mem::take(&mut st.spare);
            let mut batch = std::mem::replace(&mut st.pending, spare);
            let batch_last = st.next_seq - 1;
            let batch_crc = st.pending_crc;
            let batch_appenders = std::mem::take(&mut st.pending_appenders);
            let mut tail = st.tail.take();
            drop(st);
            shared.cond.notify_all(); // the buffer has room again
            let started = Instant::now();
            let result = shared.flush(&mut tail, &batch, batch_last);
            let took = started.elapsed();
            st = self.lock();
            st.last_batch_appenders = batch_appenders;
            st.last_flush = took;
            st.sync_latency.observe(took);
            st.tail = tail;
            batch.clear();
            st.spare = batch;
            match result {
                Ok(()) => {
                    st.durable_seq = batch_last;
                    st.durable_crc = batch_crc;
                }
                Err((durable, info)) => {
                    if durable {
                        st.durable_seq = batch_last;
                        st.durable_crc = batch_crc;
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
    /// Group commit under concurrency: when the last batch came from several appenders, they
    /// were just acknowledged and are about to append again. Waiting a fraction of a sync for
    /// them to queue turns several partial syncs into one full one. Bounded by half the last
    /// sync's duration and [`MAX_GATHER`]; a lone writer (last batch from one appender) never
    /// waits.
    fn gather_more<'a>(&self, mut st: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        if st.last_batch_appenders < 2 {
            return st;
        }
        let target = st.last_batch_appenders.min(GATHER_MAX_APPENDERS_COUNT);
        let deadline = Instant::now() + (st.last_flush / 2).min(MAX_GATHER);
        st.gather_target = target;
        while st.pending_appenders < target && st.failure.is_none() {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            st = self
                .gather
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        st.gather_target = 0;
        st
    }

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
