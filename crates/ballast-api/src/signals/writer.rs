//! The one writer of `journal/signals/`: a thread that takes every signal queued while the
//! previous batch was being synced and appends them as one batch (`append_many`: one write,
//! one fdatasync), then settles each one's backlog place and key and answers its request.
//! One thread instead of an appender per request: no herd of waiters woken by every sync.
//! The queue holds at most the signals the backlog admitted (`[api] signals_max_backlog`,
//! each reserved before it is queued); a batch is at most [`BATCH_MAX_COUNT`].
//! A request whose client went away still has its signal journaled and its key remembered.

use std::sync::{Arc, Mutex, PoisonError};

use ballast_core::Clock;
use ballast_core::inbox::ExternalSignal;
use ballast_core::intake::{self, JournaledSignal};
use ballast_store::{Journal, Layout};
use tokio::sync::{mpsc, oneshot};

use super::Intake;
use crate::error::ApiError;

/// Signals appended in one batch, at most.
const BATCH_MAX_COUNT: usize = 1024;

/// One signal to journal, and where its answer goes.
pub(super) struct Job {
    pub(super) signal: ExternalSignal,
    pub(super) key: Option<String>,
    pub(super) print: u64,
    pub(super) reply: oneshot::Sender<Result<u64, ApiError>>,
}

/// Start the writer; it ends when every sender is gone.
pub(super) fn start(
    journal: Journal,
    intake: Arc<Mutex<Intake>>,
    clock: Arc<dyn Clock>,
    layout: Layout,
) -> Result<mpsc::UnboundedSender<Job>, String> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::Builder::new()
        .name("signals-journal".into())
        .spawn(move || write_loop(&journal, &intake, &*clock, &layout, rx))
        .map_err(|e| format!("cannot start the journal/signals writer thread: {e}"))?;
    Ok(tx)
}

fn write_loop(
    journal: &Journal,
    intake: &Mutex<Intake>,
    clock: &dyn Clock,
    layout: &Layout,
    mut rx: mpsc::UnboundedReceiver<Job>,
) {
    let mut jobs = Vec::with_capacity(BATCH_MAX_COUNT);
    while let Some(first) = rx.blocking_recv() {
        jobs.push(first);
        while jobs.len() < BATCH_MAX_COUNT {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let at = clock.now();
        let (records, rest): (Vec<JournaledSignal>, Vec<_>) = jobs
            .drain(..)
            .map(|j| {
                (
                    JournaledSignal {
                        at,
                        signal: j.signal,
                    },
                    (j.key, j.print, j.reply),
                )
            })
            .unzip();
        let result = journal.append_many(records.iter().map(|r| (intake::RECORD, r)));
        let n = records.len() as u64;
        let mut st = intake.lock().unwrap_or_else(PoisonError::into_inner);
        st.in_flight = st.in_flight.saturating_sub(n);
        for (i, (key, print, reply)) in rest.into_iter().enumerate() {
            let answer = match &result {
                Ok(last) => {
                    let seq = last + 1 - n + i as u64;
                    if let Some(k) = &key {
                        st.keys.remember(k, seq, print);
                    }
                    Ok(seq)
                }
                Err(e) => {
                    if let Some(k) = &key {
                        st.keys.release(k);
                    }
                    Err(ApiError::unavailable(format!(
                        "the signal was not journaled: {e}; nothing was taken (retry with the same idempotency_key once the journal is healthy)"
                    )))
                }
            };
            // The client may be gone: its signal is journaled (or not) all the same.
            let _ = reply.send(answer);
        }
        drop(st);
        if let Err(e) = &result {
            tracing::error!(
                component = "api",
                "{} refused an append of {n} signals: {e}",
                layout.display(journal.dir())
            );
        }
    }
}
