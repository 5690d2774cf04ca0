//! Following a journal another process writes: records after a seq, in order, across segment
//! rollovers; a line still being written waits; a damaged record is an error, never skipped.

use std::io::Write;
use std::sync::Arc;

use ballast_core::clock::ManualClock;
use ballast_store::journal::follow::Follower;
use ballast_store::{Journal, JournalOptions, Layout, OpenPolicy, RealStorage};

fn open(dir: &std::path::Path, layout: &Layout) -> Journal {
    let opts = JournalOptions {
        segment_max_bytes: 4096,
        ..JournalOptions::default()
    };
    Journal::open(
        Arc::new(RealStorage),
        layout,
        dir,
        Arc::new(ManualClock::new(ballast_core::Timestamp::from_unix_ms(1))),
        opts,
        OpenPolicy::RefuseDangerous,
        &mut |_| Ok(()),
    )
    .unwrap()
    .0
}

#[test]
fn a_follower_gives_each_record_once_in_order_across_segments_and_waits_for_a_partial_line() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = Layout::new(tmp.path());
    let dir = layout.signals_journal();
    let mut f = Follower::new(&dir, 0, 1 << 20);
    assert!(f.read(10).unwrap().is_empty(), "no journal yet: nothing");
    let j = open(&dir, &layout);
    for i in 1..=200u64 {
        j.append("t.x", &serde_json::json!({"i": i, "pad": "x".repeat(40)}))
            .unwrap();
    }
    let segments = std::fs::read_dir(&dir).unwrap().count();
    assert!(segments > 2, "rolled over: {segments} segments");
    let mut seen = Vec::new();
    loop {
        let got = f.read(7).unwrap();
        assert!(got.len() <= 7);
        if got.is_empty() {
            break;
        }
        seen.extend(got.into_iter().map(|r| r.seq));
    }
    assert_eq!(seen, (1..=200).collect::<Vec<_>>());
    // From the middle: a new follower after seq 150.
    let mut mid = Follower::new(&dir, 150, 1 << 20);
    assert_eq!(mid.read(1000).unwrap().first().map(|r| r.seq), Some(151));
    // A partial line at the tail (a writer mid-append) waits; once whole it is given.
    j.append("t.x", &serde_json::json!({"i": 201})).unwrap();
    drop(j);
    let last = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .max()
        .unwrap();
    let text = std::fs::read(&last).unwrap();
    let cut = text[..text.len() - 1]
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |p| p + 1);
    let (whole, line) = text.split_at(cut);
    std::fs::write(&last, whole).unwrap();
    std::fs::OpenOptions::new()
        .append(true)
        .open(&last)
        .unwrap()
        .write_all(&line[..line.len() / 2])
        .unwrap();
    assert!(f.read(10).unwrap().is_empty(), "a partial line waits");
    std::fs::write(&last, &text).unwrap();
    let got = f.read(10).unwrap();
    assert_eq!(got.iter().map(|r| r.seq).collect::<Vec<_>>(), [201]);
    assert_eq!(got[0].kind, "t.x");
    assert_eq!(got[0].body, r#"{"i":201}"#);
    // A damaged record where the next one should be is an error that says where.
    let mut bad = text.clone();
    let n = bad.len();
    bad[n - 5] = b'0';
    std::fs::write(&last, &bad).unwrap();
    let mut again = Follower::new(&dir, 200, 1 << 20);
    let e = again.read(10).unwrap_err();
    assert!(e.contains("not a valid record"), "{e}");
}
