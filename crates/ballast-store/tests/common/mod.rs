//! Shared pieces of the storage test suites: a small ledger state folded from records.

#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use ballast_core::{Clock, ManualClock, Timestamp};
use ballast_store::journal::{JournalOptions, OpenPolicy};
use ballast_store::record::RecordRef;
use ballast_store::recovery::{RecoverError, RecoverSpec, Recovered, recover};
use ballast_store::{Journal, Layout, Storage};
use serde::{Deserialize, Serialize};

/// The state the test workloads fold: counts and an order-sensitive digest of `n` values of
/// `entry` records. A record that does not extend the ledger by exactly one is an error.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    pub count: u64,
    pub last_seq: u64,
    pub digest: u64,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Entry {
    pub n: u64,
    #[serde(default)]
    pub pad: String,
}

pub fn mix(digest: u64, n: u64) -> u64 {
    (digest ^ n).wrapping_mul(0x100_0000_01b3).rotate_left(5)
}

impl Ledger {
    pub fn apply(&mut self, rec: &RecordRef<'_>) -> Result<(), String> {
        if rec.seq <= self.last_seq {
            return Err(format!("seq {} after {}", rec.seq, self.last_seq));
        }
        self.last_seq = rec.seq;
        if rec.kind != "entry" {
            return Ok(());
        }
        let e: Entry = serde_json::from_str(rec.body.get()).map_err(|e| e.to_string())?;
        if e.n != self.count + 1 {
            return Err(format!("entry n={} after count {}", e.n, self.count));
        }
        self.count = e.n;
        self.digest = mix(self.digest, e.n);
        Ok(())
    }

    /// The ledger after entries 1..=count.
    pub fn expected(count: u64) -> u64 {
        (1..=count).fold(0, mix)
    }
}

pub fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(Timestamp::from_unix_ms(1_763_852_360_000)))
}

pub fn spec<'a>(
    storage: Arc<dyn Storage>,
    layout: &'a Layout,
    clock: Arc<dyn Clock>,
    opts: JournalOptions,
    policy: OpenPolicy,
) -> RecoverSpec<'a> {
    RecoverSpec {
        storage,
        layout,
        clock,
        opts,
        policy,
        snapshot_name: "engine",
        snapshot_retain: 2,
        report_snapshots: &[],
        check_record: |_, _| Ok(()),
    }
}

pub fn recover_ledger(
    spec: &RecoverSpec<'_>,
) -> Result<(Journal, Recovered<Ledger>), RecoverError> {
    recover(spec, Ledger::default, &mut |s: &mut Ledger, r| s.apply(r))
}

/// Every record of a journal directory, as `(seq, type, body)`.
pub fn all_records(storage: &dyn Storage, dir: &Path) -> Vec<(u64, String, String)> {
    let mut out = Vec::new();
    let _ = ballast_store::journal::scan(storage, dir, &mut |r: &RecordRef<'_>| {
        out.push((r.seq, r.kind.to_string(), r.body.get().to_owned()));
        Ok(())
    });
    out
}
