//! The ops journal (`journal/ops`): every supervisor event — a start, an exit, a backoff, a
//! FAILED, a liveness kill, a reset, an orphan killed — as a durable, checksummed record, for
//! audit and for the dashboard's timeline (SPEC principle 7).
//!
//! Appends are durable (fdatasync), so they happen on a writer thread, in bursts a few
//! milliseconds after the events: the loop's restart path never waits for a disk or shares a
//! core with a sync. The queue to it is bounded; when it is full (a disk far slower than
//! the events), events are counted and the count is journaled (`ops.dropped`) as soon as there
//! is room again — the loss is itself on record.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};

use ballast_core::Clock;
use ballast_store::{Journal, JournalOptions, Layout, OpenPolicy, RealStorage, Storage};

use crate::core::OpsEvent;
use crate::limits::OPS_BATCH_WAIT as BATCH_WAIT;
pub use crate::limits::OPS_QUEUE_COUNT as QUEUE;

/// The recorder (one, owned by the supervisor loop).
pub struct Ops {
    /// Events travel typed; the writer thread makes them records (the loop never serializes).
    tx: Option<SyncSender<OpsEvent>>,
    /// Recorded during a loop iteration, handed to the writer at its end ([`Ops::flush`]) —
    /// after any spawn of that iteration, so waking the writer never delays a restart.
    pending: std::cell::RefCell<Vec<OpsEvent>>,
    dropped: Arc<AtomicU64>,
    /// Events dropped since the start (for the health monitor), and whether a write failed.
    dropped_total: Arc<AtomicU64>,
    failed: Arc<std::sync::atomic::AtomicBool>,
    writer: Option<std::thread::JoinHandle<()>>,
    /// Where every emitted event is also counted (the metrics), once the surfaces exist.
    counted: Option<Arc<crate::surface::Published>>,
}

impl Ops {
    /// Events go nowhere (the journal could not be opened; the log still has them).
    pub fn disabled() -> Self {
        Ops {
            tx: None,
            pending: std::cell::RefCell::new(Vec::new()),
            dropped: Arc::new(AtomicU64::new(0)),
            dropped_total: Arc::new(AtomicU64::new(0)),
            failed: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            writer: None,
            counted: None,
        }
    }

    /// Count every event emitted from now on into `published` (the metrics' counters).
    pub fn count_into(&mut self, published: Arc<crate::surface::Published>) {
        self.counted = Some(published);
    }

    /// Events dropped so far, and whether the journal refused a write.
    pub fn health(&self) -> (u64, bool) {
        (
            self.dropped_total.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        )
    }

    fn drop_one(&self) {
        if let Some(p) = &self.counted {
            p.count_dropped();
        }
        self.dropped.fetch_add(1, Ordering::Relaxed);
        self.dropped_total.fetch_add(1, Ordering::Relaxed);
    }

    /// Open `journal/ops` of `data_dir` and start its writer. A journal that cannot be opened
    /// (dangerous damage is never repaired here) is reported and the supervisor runs without it.
    pub fn open(data_dir: &Path, clock: Arc<dyn Clock>, log: &mut dyn FnMut(&str)) -> Self {
        let storage: Arc<dyn Storage> = Arc::new(RealStorage);
        let layout = Layout::new(data_dir);
        let dir = layout.ops_journal();
        let opened = Journal::open(
            storage,
            &layout,
            &dir,
            clock,
            JournalOptions::default(),
            OpenPolicy::RefuseDangerous,
            &mut |_| Ok(()),
        );
        let (journal, report) = match opened {
            Ok(j) => j,
            Err(e) => {
                log(&format!(
                    "CRITICAL: the ops journal {} cannot be opened ({e}); supervisor events go to the log only until it is repaired",
                    dir.display()
                ));
                return Ops::disabled();
            }
        };
        for h in &report.heals {
            log(&format!("heal: {} {}: {}", h.component, h.path, h.action));
        }
        let (tx, rx) = mpsc::sync_channel::<OpsEvent>(QUEUE);
        let dropped = Arc::new(AtomicU64::new(0));
        let lost = Arc::clone(&dropped);
        let failed_flag = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let failed_w = Arc::clone(&failed_flag);
        let writer = std::thread::spawn(move || {
            let mut failed = false;
            while let Ok(first) = rx.recv() {
                // Events come in bursts (an exit, its backoff, the next start): wait a moment
                // and write the burst with one sync, after the restart it belongs to is done.
                std::thread::sleep(BATCH_WAIT);
                let mut batch = vec![first];
                batch.extend(rx.try_iter().take(QUEUE));
                let n = lost.swap(0, Ordering::Relaxed);
                let lost_events = (n > 0).then_some(OpsEvent::OpsDropped { events: n });
                let records: Vec<_> = lost_events
                    .iter()
                    .chain(&batch)
                    .map(OpsEvent::record)
                    .collect();
                if let Err(e) = journal.append_many(records.iter().map(|(k, v)| (*k, v))) {
                    failed_w.store(true, Ordering::Relaxed);
                    if !failed {
                        failed = true;
                        use std::io::Write;
                        let _ = writeln!(
                            std::io::stderr(),
                            "supervisor: CRITICAL: the ops journal refused a write ({e}); supervisor events go to the log only"
                        );
                    }
                }
            }
        });
        Ops {
            tx: Some(tx),
            pending: std::cell::RefCell::new(Vec::new()),
            dropped,
            dropped_total: Arc::new(AtomicU64::new(0)),
            failed: failed_flag,
            writer: Some(writer),
            counted: None,
        }
    }

    /// Write what is queued, then stop the writer (at shutdown: nothing recorded is lost).
    pub fn close(mut self) {
        self.flush();
        self.tx = None;
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }

    /// Journal an event (no system call; see [`Ops::flush`]): its kind and its body. The
    /// only way in: every record of the ops journal is an [`OpsEvent`].
    pub fn emit(&self, ev: &OpsEvent) {
        if let Some(p) = &self.counted {
            p.count(ev);
        }
        if self.tx.is_none() {
            return;
        }
        let mut pending = self.pending.borrow_mut();
        if pending.len() < QUEUE {
            pending.push(ev.clone());
        } else {
            self.drop_one();
        }
    }

    /// A handle other threads journal through (the alerts' delivery thread): each event goes
    /// straight to the writer's queue, a full queue counted as [`Ops::emit`] counts it.
    pub fn sender(&self) -> OpsSender {
        OpsSender {
            tx: self.tx.clone(),
            dropped: Arc::clone(&self.dropped),
            dropped_total: Arc::clone(&self.dropped_total),
        }
    }

    /// Hand what was recorded to the writer (never blocks; a full queue is counted).
    pub fn flush(&self) {
        let Some(tx) = &self.tx else { return };
        for ev in self.pending.borrow_mut().drain(..) {
            match tx.try_send(ev) {
                Ok(()) | Err(TrySendError::Disconnected(_)) => {}
                Err(TrySendError::Full(_)) => self.drop_one(),
            }
        }
    }
}

/// [`Ops::sender`]: journal from another thread (never blocks). Every clone must be dropped
/// before [`Ops::close`] can finish.
#[derive(Clone)]
pub struct OpsSender {
    tx: Option<SyncSender<OpsEvent>>,
    dropped: Arc<AtomicU64>,
    dropped_total: Arc<AtomicU64>,
}

impl OpsSender {
    pub fn emit(&self, ev: OpsEvent) {
        let Some(tx) = &self.tx else { return };
        if let Err(TrySendError::Full(_)) = tx.try_send(ev) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            self.dropped_total.fetch_add(1, Ordering::Relaxed);
        }
    }
}
