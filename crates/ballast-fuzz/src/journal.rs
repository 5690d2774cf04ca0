//! The journal's lines (the record decoder and its checksum framing, then the engine's record
//! types), whole segments as the engine opens them (scan, then the repair rules), and snapshot
//! files. All on [`SimStorage`]: no disk, every write seen.

use std::path::Path;
use std::sync::Arc;

use ballast_core::Timestamp;
use ballast_core::clock::ManualClock;
use ballast_core::engine::EngineRecord;
use ballast_store::journal::scan::scan_checked;
use ballast_store::journal::{Journal, JournalOptions, OpenPolicy, segment};
use ballast_store::record::{self, RecordRef};
use ballast_store::sim::SimStorage;
use ballast_store::snapshot::Snapshots;
use ballast_store::{Layout, Storage};

use crate::select;

/// The fixed time of every target that needs one.
pub(crate) fn now() -> Timestamp {
    Timestamp::from_unix_ms(1_764_547_200_000)
}

/// A data directory on a fresh [`SimStorage`].
pub(crate) fn sim_layout() -> (Arc<SimStorage>, Layout) {
    let sim = Arc::new(SimStorage::new());
    let layout = Layout::new("/fuzz/data");
    let _ = layout.create(sim.as_ref());
    (sim, layout)
}

/// One journal line (without its newline): framing and checksum, then its body as the engine's
/// record type. What decodes is written again with the writer's framing and must decode to the
/// same record, and an engine record to the same value.
pub fn line(data: &[u8]) {
    let Ok(rec) = record::decode(data) else {
        return;
    };
    let _ = rec.crc();
    if !data.contains(&b'\n') {
        reframe(&rec);
    }
    engine_record(&rec);
}

/// `rec` written by [`record::encode`] reads back as itself.
fn reframe(rec: &RecordRef<'_>) {
    let mut out = Vec::new();
    let crc = record::encode(
        &mut out,
        rec.seq,
        rec.ts,
        &rec.kind,
        rec.body.get().as_bytes(),
    );
    let line = out.strip_suffix(b"\n").unwrap_or(&out);
    match record::decode(line) {
        Ok(back) => {
            assert_eq!(
                (back.seq, back.ts, &*back.kind, back.body.get()),
                (rec.seq, rec.ts, &*rec.kind, rec.body.get()),
                "record round trip"
            );
            assert_eq!(back.crc(), crc, "the checksum read is the one written");
        }
        Err(e) => panic!("a record written from a decoded one does not decode: {e:?}"),
    }
}

/// The body of `rec` as the engine's record of its type; one that decodes is serialized again
/// and must decode to the same value.
fn engine_record(rec: &RecordRef<'_>) {
    let Ok(r) = EngineRecord::decode(&rec.kind, rec.body.get()) else {
        return;
    };
    let Ok(serde_json::Value::Object(mut whole)) = serde_json::to_value(&r) else {
        panic!("an engine record does not serialize");
    };
    let body = whole.remove("body").unwrap_or_default().to_string();
    assert_eq!(
        EngineRecord::decode(&rec.kind, &body).as_ref(),
        Ok(&r),
        "engine record round trip of {body}"
    );
}

/// A whole journal segment (the bytes of `00000000000000000001.jsonl`), opened as the engine
/// opens its journal in paper mode: scanned with the engine's record check, then the repair
/// rules (torn tail cut, damage salvaged). A second open finds nothing left to repair and the
/// same records.
pub fn segment(data: &[u8]) {
    let (sim, layout) = sim_layout();
    let dir = layout.engine_journal();
    let path = dir.join(segment::name(1));
    if ballast_store::files::write_atomic(sim.as_ref(), &path, data).is_err() {
        return;
    }
    let check = |r: &RecordRef<'_>| EngineRecord::decode(&r.kind, r.body.get()).map(|_| ());
    let _ = scan_checked(sim.as_ref(), &dir, &check, &mut |_| Ok(()));
    let Some(first) = open(&sim, &layout, &dir) else {
        return;
    };
    let second = open(&sim, &layout, &dir);
    let Some(second) = second else {
        panic!("a journal opened once does not open again");
    };
    assert_eq!(first.0, second.0, "the second open sees other records");
    assert!(
        second.1,
        "the second open repaired again what the first repaired"
    );
}

/// `(seqs visited, nothing repaired)` of an open in paper mode, if it opened.
fn open(sim: &Arc<SimStorage>, layout: &Layout, dir: &Path) -> Option<(Vec<u64>, bool)> {
    let storage: Arc<dyn Storage> = sim.clone();
    let clock = Arc::new(ManualClock::new(now()));
    let mut seqs = Vec::new();
    let (journal, report) = Journal::open(
        storage,
        layout,
        dir,
        clock,
        JournalOptions::default(),
        OpenPolicy::SalvageDangerous,
        &mut |r| {
            seqs.push(r.seq);
            Ok(())
        },
    )
    .ok()?;
    drop(journal);
    Some((seqs, report.heals.is_empty() && report.salvaged.is_none()))
}

/// A snapshot file (`state/engine.snapshot.<seq>.json`), loaded as recovery loads it: a
/// damaged one is moved aside, an intact one read as its state.
pub fn snapshot(data: &[u8]) {
    let (sel, rest) = select(data);
    let (sim, layout) = sim_layout();
    // Named for the seq it says it covers (else the selector's): a real snapshot is intact.
    let line = rest.strip_suffix(b"\n").unwrap_or(rest);
    let seq = record::decode(line).map_or(u64::from(sel) + 1, |r| r.seq);
    let path = layout
        .state()
        .join(format!("engine.snapshot.{seq:020}.json"));
    if ballast_store::files::write_atomic(sim.as_ref(), &path, rest).is_err() {
        return;
    }
    let clock = ManualClock::new(now());
    let snaps = Snapshots {
        storage: sim.as_ref(),
        layout: &layout,
        clock: &clock,
        name: "engine",
        retain: 2,
    };
    let _ = snaps.inspect();
    let fits = |state: &str| {
        serde_json::from_str::<serde_json::Value>(state)
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    let _ = snaps.facts(Some(&fits));
    if let Ok(loaded) = snaps.load::<serde_json::Value>() {
        if let Some((s, state)) = loaded.newest {
            assert_eq!(s, seq);
            // Written again, it loads as the same state.
            let _ = snaps.write(seq, 0, &state);
            let again = snaps
                .load::<serde_json::Value>()
                .ok()
                .and_then(|l| l.newest);
            assert_eq!(again, Some((seq, state)), "snapshot round trip");
        }
    }
}
