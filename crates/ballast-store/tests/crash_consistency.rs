//! Crash-consistency harness: run a workload of appends and snapshots on the simulated file
//! system, then recover *every* crash image at *every* point of the operation log (unsynced
//! data dropped, torn at each 512-byte boundary, zero-filled, renames without their data) and
//! check: every acknowledged record present, nothing invented, seq strictly increasing, the
//! snapshot + replay state equal to the full-replay state, and the recovered journal usable.

mod common;

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::sync::Arc;

use ballast_store::journal::{JournalOptions, OpenPolicy};
use ballast_store::sim::{Op, SimFs, SimStorage};
use ballast_store::snapshot::Snapshots;
use ballast_store::{Layout, Storage};
use common::{Entry, Ledger, clock, recover_ledger, spec};

const OPTS: JournalOptions = JournalOptions {
    segment_max_bytes: 2048,
    max_record_bytes: 4096,
    max_pending_bytes: 65536,
};
const SNAPSHOT_EVERY: u64 = 20;

/// Run the workload: two sessions (open, append, snapshot; reopen, continue).
fn workload(storage: &SimStorage, appends_per_session: u64) {
    let layout = Layout::new("/data");
    let clock = clock();
    let shared: Arc<dyn Storage> = Arc::new(storage.clone());
    for _session in 0..2 {
        let sp = spec(
            Arc::clone(&shared),
            &layout,
            clock.clone(),
            OPTS,
            OpenPolicy::RefuseDangerous,
        );
        let (journal, rec) = recover_ledger(&sp).expect("workload recovery");
        let mut ledger = rec.state;
        for _ in 0..appends_per_session {
            clock.advance_ms(7);
            let n = ledger.count + 1;
            let body = Entry {
                n,
                pad: "x".repeat((n * 37 % 300) as usize),
            };
            let (seq, crc) = journal.append_record("entry", &body).expect("append");
            storage.mark(seq);
            ledger.count = n;
            ledger.last_seq = seq;
            ledger.digest = common::mix(ledger.digest, n);
            if n % SNAPSHOT_EVERY == 0 {
                let snaps = Snapshots {
                    storage: &*shared,
                    layout: &layout,
                    clock: &*clock,
                    name: "engine",
                    retain: 2,
                };
                snaps.write(seq, crc, &ledger).expect("snapshot");
            }
        }
    }
}

/// A short description of a logged operation for failure messages.
fn describe(op: &Op) -> String {
    match op {
        Op::Write { inode, bytes } => format!("write of {} bytes to inode {inode}", bytes.len()),
        other => format!("{other:?}"),
    }
}

/// Recover an image; then append one more record and recover again. Returns the last seq
/// recovered, or what went wrong.
fn recover_image(image: &SimFs) -> Result<u64, String> {
    let storage = SimStorage::from_fs(image.clone());
    let shared: Arc<dyn Storage> = Arc::new(storage.clone());
    let layout = Layout::new("/data");
    let clock = clock();
    let sp = spec(
        Arc::clone(&shared),
        &layout,
        clock.clone(),
        OPTS,
        OpenPolicy::RefuseDangerous,
    );
    let (journal, rec) = recover_ledger(&sp).map_err(|e| format!("recovery failed: {e}"))?;
    let ledger = rec.state.clone();
    if ledger.digest != Ledger::expected(ledger.count) {
        return Err(format!(
            "state differs from the records written (count {})",
            ledger.count
        ));
    }
    if ledger.last_seq != rec.last_seq || ledger.count != rec.last_seq {
        return Err(format!(
            "ledger at seq {} / count {} but journal ends at {}",
            ledger.last_seq, ledger.count, rec.last_seq
        ));
    }
    // Full replay without snapshots gives the same state.
    let mut full = Ledger::default();
    for (seq, _, body) in common::all_records(&storage, &layout.engine_journal()) {
        let e: Entry = serde_json::from_str(&body).map_err(|e| e.to_string())?;
        if e.n != full.count + 1 || seq != full.last_seq + 1 {
            return Err(format!("record seq {seq} n {} out of order", e.n));
        }
        full.count = e.n;
        full.last_seq = seq;
        full.digest = common::mix(full.digest, e.n);
    }
    if full != ledger {
        return Err(format!(
            "snapshot+replay {ledger:?} != full replay {full:?}"
        ));
    }
    // The recovered journal must take new appends, and they must survive another recovery.
    let next = Entry {
        n: ledger.count + 1,
        pad: String::new(),
    };
    let seq = journal
        .append("entry", &next)
        .map_err(|e| format!("append after recovery: {e}"))?;
    drop(journal);
    let sp2 = spec(shared, &layout, clock, OPTS, OpenPolicy::RefuseDangerous);
    let (_, again) = recover_ledger(&sp2).map_err(|e| format!("second recovery failed: {e}"))?;
    if again.state.last_seq != seq || again.state.count != next.n {
        return Err(format!(
            "record appended after recovery was lost: {:?}",
            again.state
        ));
    }
    Ok(rec.last_seq)
}

#[test]
fn every_crash_image_recovers_every_acknowledged_record() {
    let storage = SimStorage::new();
    workload(&storage, 150);
    let log = storage.log();
    let total_marks = log.iter().filter(|op| matches!(op, Op::Mark(_))).count();
    assert_eq!(total_marks, 300, "the workload acknowledged every append");
    assert!(
        log.iter()
            .filter(|op| matches!(op, Op::Rename { .. }))
            .count()
            >= 10,
        "the workload wrote snapshots"
    );

    let mut fs = SimFs::default();
    let mut acked = 0u64;
    let mut cache: HashMap<u64, Result<u64, String>> = HashMap::new();
    let mut images_checked = 0usize;
    for (i, op) in log.iter().enumerate() {
        fs.apply(op);
        if let Op::Mark(seq) = op {
            acked = *seq;
            continue;
        }
        for (label, image) in fs.crash_images() {
            let mut h = DefaultHasher::new();
            image.hash(&mut h);
            let outcome = cache
                .entry(h.finish())
                .or_insert_with(|| recover_image(&image))
                .clone();
            images_checked += 1;
            match outcome {
                Ok(last) if last >= acked => {}
                Ok(last) => panic!(
                    "after op {i} ({}), image {label:?}: recovered up to seq {last} but seq {acked} was acknowledged",
                    describe(op)
                ),
                Err(e) => panic!("after op {i} ({}), image {label:?}: {e}", describe(op)),
            }
        }
    }
    assert!(
        images_checked > 2000,
        "only {images_checked} crash images checked"
    );
    eprintln!(
        "checked {images_checked} crash images ({} distinct) over {} operations",
        cache.len(),
        log.len()
    );
}

#[test]
fn harness_sees_a_missing_directory_fsync() {
    // A writer that never fsyncs the directory after creating a segment loses acknowledged
    // records in the "synced entries" image: the harness's recovery check must notice.
    let storage = SimStorage::new();
    workload(&storage, 60);
    let log: Vec<Op> = storage
        .log()
        .into_iter()
        .filter(|op| !matches!(op, Op::SyncDir { dir } if dir == Path::new("/data/journal/engine")))
        .collect();
    let mut fs = SimFs::default();
    let mut acked = 0;
    let mut lost = false;
    for op in &log {
        fs.apply(op);
        if let Op::Mark(seq) = op {
            acked = *seq;
            continue;
        }
        let (_, synced) = &fs.crash_images()[0];
        if let Ok(last) = recover_image(synced) {
            lost |= last < acked;
        } else {
            lost = true;
        }
        if lost {
            break;
        }
    }
    assert!(lost, "dropping the directory fsync went unnoticed");
}
