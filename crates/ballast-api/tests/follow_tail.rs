//! The follower's tail reader on a real journal written by the store's writer: it reads every
//! record once across segment rolls, picks up appends, and says so when the journal changes
//! under it (a segment truncated or removed) instead of reading garbage.

use std::path::Path;
use std::sync::Arc;

use ballast_api::follow::tail::{Step, Tail};
use ballast_store::{Journal, JournalOptions, Layout, OpenPolicy, RealStorage, SystemClock};

fn journal(dir: &Path) -> Journal {
    let layout = Layout::new(dir);
    let opts = JournalOptions {
        segment_max_bytes: 4096,
        max_record_bytes: 1024,
        ..JournalOptions::default()
    };
    Journal::open(
        Arc::new(RealStorage),
        &layout,
        &layout.engine_journal(),
        Arc::new(SystemClock),
        opts,
        OpenPolicy::RefuseDangerous,
        &mut |_| Ok(()),
    )
    .expect("journal")
    .0
}

/// Step until idle; the seqs read.
fn drain(tail: &mut Tail) -> Vec<u64> {
    let mut out = Vec::new();
    for _ in 0..10_000 {
        match tail.step() {
            Step::Records(r) => out.extend(r.iter().map(|r| r.seq)),
            Step::Idle { partial: false } => return out,
            other => panic!("unexpected {other:?}"),
        }
    }
    panic!("never idle");
}

#[test]
fn every_record_once_across_segment_rolls_and_later_appends() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let j = journal(tmp.path());
    for n in 0..200 {
        j.append(
            "test.record",
            &serde_json::json!({"n": n, "pad": "x".repeat(40)}),
        )
        .expect("append");
    }
    let dir = tmp.path().join("journal/engine");
    let segments = std::fs::read_dir(&dir).expect("dir").count();
    assert!(segments > 3, "the journal rolled ({segments} segments)");
    let mut tail = Tail::new(&dir, 1);
    assert_eq!(drain(&mut tail), (1..=200).collect::<Vec<_>>());
    for n in 0..100 {
        j.append(
            "test.record",
            &serde_json::json!({"n": n, "pad": "y".repeat(40)}),
        )
        .expect("append");
    }
    assert_eq!(drain(&mut tail), (201..=300).collect::<Vec<_>>());
    // From a snapshot's seq: only the records after it.
    let mut from = Tail::new(&dir, 151);
    assert_eq!(drain(&mut from), (151..=300).collect::<Vec<_>>());
}

#[test]
fn a_segment_that_shrinks_or_vanishes_is_a_reset_not_garbage() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let j = journal(tmp.path());
    for n in 0..10 {
        j.append("test.record", &serde_json::json!({ "n": n }))
            .expect("append");
    }
    drop(j);
    let dir = tmp.path().join("journal/engine");
    let mut tail = Tail::new(&dir, 1);
    assert_eq!(drain(&mut tail).len(), 10);
    let seg = std::fs::read_dir(&dir)
        .expect("dir")
        .flatten()
        .next()
        .expect("a segment")
        .path();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&seg)
        .expect("open");
    f.set_len(10).expect("truncate");
    assert!(matches!(tail.step(), Step::Reset(w) if w.contains("shorter")));
    let mut tail = Tail::new(&dir, 1);
    assert!(matches!(tail.step(), Step::Records(_)));
    std::fs::remove_file(&seg).expect("remove");
    assert!(matches!(tail.step(), Step::Reset(w) if w.contains("gone")));
}
