//! Recovery: the newest valid snapshot plus a replay of the journal records after it.
//! Replaying the same journal always yields the same state.

use std::sync::Arc;

use ballast_core::Clock;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::journal::{Journal, JournalError, JournalOptions, OpenPolicy, OpenReport};
use crate::layout::Layout;
use crate::quarantine::Heal;
use crate::record::RecordRef;
use crate::snapshot::{SnapshotError, Snapshots};
use crate::storage::Storage;

#[derive(Debug, thiserror::Error)]
pub enum RecoverError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    #[error(
        "snapshot covers seq {snapshot_seq} but the journal ends at seq {journal_last}: acknowledged \
         records are missing from the journal. Nothing was guessed; restore the journal or run \
         `ballast heal --dry-run` for the plan"
    )]
    SnapshotAhead {
        snapshot_seq: u64,
        journal_last: u64,
    },
}

/// A recovered state and how it was obtained.
#[derive(Debug)]
pub struct Recovered<S> {
    pub state: S,
    /// Seq covered by the snapshot used (0: none, full replay).
    pub snapshot_seq: u64,
    /// Last seq in the journal.
    pub last_seq: u64,
    /// Records replayed on top of the snapshot.
    pub replayed: u64,
    /// Snapshot heals, then journal heals.
    pub heals: Vec<Heal>,
    pub journal: OpenReport,
}

/// Where and how to recover.
pub struct RecoverSpec<'a> {
    pub storage: Arc<dyn Storage>,
    pub layout: &'a Layout,
    pub clock: Arc<dyn Clock>,
    pub opts: JournalOptions,
    pub policy: OpenPolicy,
    /// The snapshot name (`engine`).
    pub snapshot_name: &'a str,
    pub snapshot_retain: usize,
}

/// Recover state `S` of the engine journal: `init` builds the empty state, `apply` folds one
/// record into it.
pub fn recover<S: Serialize + DeserializeOwned>(
    spec: &RecoverSpec<'_>,
    init: impl FnOnce() -> S,
    apply: &mut dyn FnMut(&mut S, &RecordRef<'_>) -> Result<(), String>,
) -> Result<(Journal, Recovered<S>), RecoverError> {
    let snapshots = Snapshots {
        storage: &*spec.storage,
        layout: spec.layout,
        clock: &*spec.clock,
        name: spec.snapshot_name,
        retain: spec.snapshot_retain,
    };
    let loaded = snapshots.load::<S>()?;
    let (snapshot_seq, mut state) = loaded.newest.unwrap_or_else(|| (0, init()));
    let mut replayed = 0u64;
    let (journal, report) = Journal::open(
        Arc::clone(&spec.storage),
        spec.layout,
        &spec.layout.engine_journal(),
        Arc::clone(&spec.clock),
        spec.opts,
        spec.policy,
        &mut |rec: &RecordRef<'_>| {
            if rec.seq > snapshot_seq {
                apply(&mut state, rec)?;
                replayed += 1;
            }
            Ok(())
        },
    )?;
    if snapshot_seq > report.scan.last_seq {
        return Err(RecoverError::SnapshotAhead {
            snapshot_seq,
            journal_last: report.scan.last_seq,
        });
    }
    let mut heals = loaded.heals;
    heals.extend(report.heals.iter().cloned());
    Ok((
        journal,
        Recovered {
            state,
            snapshot_seq,
            last_seq: report.scan.last_seq,
            replayed,
            heals,
            journal: report,
        },
    ))
}
