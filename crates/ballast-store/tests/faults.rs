//! Fault injection: ENOSPC, EIO and fsync failure on write, sync, segment creation, directory
//! fsync and rename. Each surfaces as a typed error, the failing record is not acknowledged,
//! the writer refuses every later append, and a recovery finds every acknowledged record.

mod common;

use std::sync::Arc;

use ballast_store::journal::{IoOp, JournalError, JournalOptions, OpenPolicy};
use ballast_store::sim::{EIO, ENOSPC, Fault, FaultOp, SimStorage};
use ballast_store::snapshot::{SnapshotError, Snapshots};
use ballast_store::{Layout, Storage};
use common::{Entry, clock, recover_ledger, spec};

const OPTS: JournalOptions = JournalOptions {
    segment_max_bytes: 1024,
    max_record_bytes: 4096,
    max_pending_bytes: 65536,
};

fn entry(n: u64) -> Entry {
    Entry {
        n,
        pad: "z".repeat(40),
    }
}

struct Case {
    name: &'static str,
    fault: Fault,
    expect_op: IoOp,
    errno: i32,
}

fn fault(op: FaultOp, errno: i32, partial_write: bool) -> Fault {
    Fault {
        op,
        skip: 0,
        errno,
        path_contains: Some("journal/engine".into()),
        partial_write,
    }
}

#[test]
fn every_injected_fault_is_typed_refused_after_and_loses_nothing_acknowledged() {
    let cases = [
        Case {
            name: "ENOSPC on write (short write)",
            fault: fault(FaultOp::Write, ENOSPC, true),
            expect_op: IoOp::Write,
            errno: ENOSPC,
        },
        Case {
            name: "ENOSPC on write",
            fault: fault(FaultOp::Write, ENOSPC, false),
            expect_op: IoOp::Write,
            errno: ENOSPC,
        },
        Case {
            name: "EIO on write",
            fault: fault(FaultOp::Write, EIO, true),
            expect_op: IoOp::Write,
            errno: EIO,
        },
        Case {
            name: "fsync fails (EIO)",
            fault: fault(FaultOp::Sync, EIO, false),
            expect_op: IoOp::Sync,
            errno: EIO,
        },
        Case {
            name: "fsync fails (ENOSPC)",
            fault: fault(FaultOp::Sync, ENOSPC, false),
            expect_op: IoOp::Sync,
            errno: ENOSPC,
        },
        Case {
            name: "segment roll: create fails (ENOSPC)",
            fault: fault(FaultOp::Create, ENOSPC, false),
            expect_op: IoOp::CreateSegment,
            errno: ENOSPC,
        },
        Case {
            name: "segment roll: directory fsync fails",
            fault: fault(FaultOp::SyncDir, EIO, false),
            expect_op: IoOp::SyncDir,
            errno: EIO,
        },
    ];
    for case in cases {
        let storage = SimStorage::new();
        let shared: Arc<dyn Storage> = Arc::new(storage.clone());
        let layout = Layout::new("/data");
        let clk = clock();
        let sp = spec(
            shared.clone(),
            &layout,
            clk.clone(),
            OPTS,
            OpenPolicy::RefuseDangerous,
        );
        let (journal, _) = recover_ledger(&sp).unwrap();
        let mut last_ok = 0;
        for n in 1..=3 {
            last_ok = journal.append("entry", &entry(n)).unwrap();
        }
        storage.inject(case.fault.clone());
        // Append until the fault fires (roll faults fire only when a segment fills).
        let mut n = 4;
        let err = loop {
            match journal.append("entry", &entry(n)) {
                Ok(seq) => {
                    last_ok = seq;
                    n += 1;
                    assert!(n < 100, "{}: fault never fired", case.name);
                }
                Err(e) => break e,
            }
        };
        let JournalError::WriteFailed(info) = &err else {
            panic!("{}: expected WriteFailed, got {err:?}", case.name);
        };
        assert_eq!(info.op, case.expect_op, "{}", case.name);
        assert_eq!(info.errno, Some(case.errno), "{}", case.name);
        assert_eq!(info.is_disk_full(), case.errno == ENOSPC, "{}", case.name);
        let msg = err.to_string();
        assert!(
            msg.contains("NOT acknowledged") && msg.contains("refuses"),
            "{}: {msg}",
            case.name
        );
        // Nothing half-acknowledged: durable is exactly what was acknowledged. (A roll failure
        // happens after its batch was synced: that append succeeded, the next one is refused.)
        assert_eq!(journal.durable_seq(), last_ok, "{}", case.name);
        // Every later append is refused, even though the fault is gone.
        let again = journal.append("entry", &entry(999)).unwrap_err();
        assert!(
            matches!(again, JournalError::WriteFailed(_)),
            "{}: {again:?}",
            case.name
        );
        assert!(journal.failure().is_some());
        drop(journal);

        // Recovery (after "space is back"): the acknowledged records are all there.
        let acked = last_ok;
        let sp = spec(
            shared.clone(),
            &layout,
            clk.clone(),
            OPTS,
            OpenPolicy::RefuseDangerous,
        );
        let (journal, rec) = recover_ledger(&sp).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert!(
            rec.last_seq >= acked,
            "{}: lost acknowledged records",
            case.name
        );
        assert!(rec.last_seq <= acked + 1, "{}: invented records", case.name);
        let short = case.fault.partial_write;
        assert_eq!(
            !rec.heals.is_empty(),
            short,
            "{}: a short write leaves a torn tail to heal",
            case.name
        );
        // And it is writable again.
        journal
            .append("entry", &entry(rec.state.count + 1))
            .unwrap();
    }
}

#[test]
fn a_failed_snapshot_rename_is_typed_and_keeps_the_previous_snapshot() {
    let storage = SimStorage::new();
    let layout = Layout::new("/data");
    let clk = clock();
    let snaps = Snapshots {
        storage: &storage,
        layout: &layout,
        clock: &*clk,
        name: "engine",
        retain: 2,
    };
    snaps
        .write(
            10,
            0,
            &common::Ledger {
                count: 10,
                last_seq: 10,
                digest: 1,
            },
        )
        .unwrap();
    storage.inject(Fault {
        op: FaultOp::Rename,
        skip: 0,
        errno: EIO,
        path_contains: None,
        partial_write: false,
    });
    let err = snaps
        .write(
            20,
            0,
            &common::Ledger {
                count: 20,
                last_seq: 20,
                digest: 2,
            },
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            SnapshotError::Io {
                op: "rename into place",
                ..
            }
        ),
        "{err:?}"
    );
    let loaded = snaps.load::<common::Ledger>().unwrap();
    assert_eq!(loaded.newest.map(|(seq, s)| (seq, s.count)), Some((10, 10)));
    assert_eq!(
        loaded.heals.len(),
        1,
        "the leftover temp file is moved to quarantine"
    );
    assert!(
        loaded.heals[0]
            .quarantined
            .as_deref()
            .unwrap()
            .starts_with("quarantine/state/")
    );

    storage.inject(Fault {
        op: FaultOp::Sync,
        skip: 0,
        errno: ENOSPC,
        path_contains: Some("state".into()),
        partial_write: false,
    });
    let err = snaps.write(30, 0, &common::Ledger::default()).unwrap_err();
    assert!(
        matches!(
            err,
            SnapshotError::Io {
                op: "fdatasync",
                ..
            }
        ),
        "{err:?}"
    );
}
