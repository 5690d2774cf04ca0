//! Corruption sweep: for a small two-segment journal and a snapshot, truncate at every offset
//! and flip a byte at every offset. The verdict must be exactly what the repair rules say
//! (clean prefix, torn tail → heal, or dangerous), never a panic, never a silently shorter
//! history; dangerous damage changes nothing unless paper-mode salvage is asked for.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ballast_store::journal::{self, JournalError, JournalOptions, OpenPolicy, Verdict};
use ballast_store::sim::SimStorage;
use ballast_store::snapshot::Snapshots;
use ballast_store::{Journal, Layout, Storage};
use common::{Entry, Ledger, clock};

const OPTS: JournalOptions = JournalOptions {
    segment_max_bytes: 700,
    max_record_bytes: 4096,
    max_pending_bytes: 65536,
};

fn dir() -> PathBuf {
    PathBuf::from("/data/journal/engine")
}

/// A pristine journal: (segment name, bytes, record end offsets) per segment.
fn pristine() -> Vec<(String, Vec<u8>, Vec<usize>)> {
    let storage = SimStorage::new();
    let (j, _) = open(&storage, OpenPolicy::RefuseDangerous).unwrap();
    for n in 1..=12 {
        j.append(
            "entry",
            &Entry {
                n,
                pad: "q".repeat(n as usize % 5),
            },
        )
        .unwrap();
    }
    let mut out = Vec::new();
    for name in storage.list(&dir()).unwrap() {
        let bytes = storage.read(&dir().join(&name)).unwrap();
        let ends = bytes
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .map(|(i, _)| i + 1)
            .collect();
        if !bytes.is_empty() {
            out.push((name, bytes, ends));
        }
    }
    assert_eq!(out.len(), 2, "the sweep needs two segments");
    out
}

fn open(
    storage: &SimStorage,
    policy: OpenPolicy,
) -> Result<(Journal, journal::OpenReport), JournalError> {
    Journal::open(
        Arc::new(storage.clone()),
        &Layout::new("/data"),
        &dir(),
        clock(),
        OPTS,
        policy,
        &mut |_| Ok(()),
    )
}

fn append_one(j: &Journal) -> u64 {
    j.append(
        "entry",
        &Entry {
            n: 0,
            pad: String::new(),
        },
    )
    .unwrap()
}

fn storage_with(segments: &[(String, Vec<u8>)]) -> SimStorage {
    let s = SimStorage::new();
    s.create_dir_all(&dir()).unwrap();
    for (name, bytes) in segments {
        let mut f = s.create_new(&dir().join(name)).unwrap();
        f.write_all(bytes).unwrap();
        f.sync_data().unwrap();
    }
    s.sync_dir(&dir()).unwrap();
    s
}

#[derive(Debug, PartialEq)]
enum Expect {
    Clean(u64),
    Torn(u64),
    Dangerous(u64),
}

fn check(label: &str, segments: &[(String, Vec<u8>)], expect: Expect) {
    let storage = storage_with(segments);
    let mut records = 0u64;
    let scan = journal::scan(&storage, &dir(), &mut |_| {
        records += 1;
        Ok(())
    })
    .unwrap();
    let got = match &scan.verdict {
        Verdict::Clean => Expect::Clean(scan.records),
        Verdict::TornTail(_) => Expect::Torn(scan.records),
        Verdict::Dangerous(_) => Expect::Dangerous(scan.records),
    };
    assert_eq!(got, expect, "{label}: {:?}", scan.verdict);
    assert_eq!(
        records, scan.records,
        "{label}: visitor saw a different count"
    );
    let valid = scan.records;

    // Opening with the live policy: dangerous → refused and nothing changed.
    let before = storage.fs();
    let opened = open(&storage, OpenPolicy::RefuseDangerous);
    match expect {
        Expect::Dangerous(_) => {
            let err = opened.unwrap_err();
            assert!(
                matches!(err, JournalError::Dangerous { .. }),
                "{label}: {err:?}"
            );
            assert!(
                err.to_string().contains("Nothing was changed"),
                "{label}: {err}"
            );
            assert_eq!(
                storage.fs(),
                before,
                "{label}: a refused open changed files"
            );
            // Paper-mode salvage keeps the valid prefix and continues.
            let (j, report) = open(&storage, OpenPolicy::SalvageDangerous)
                .unwrap_or_else(|e| panic!("{label}: salvage failed: {e}"));
            assert!(
                report.salvaged.is_some() && !report.heals.is_empty(),
                "{label}"
            );
            assert_eq!(append_one(&j), valid + 1, "{label}");
        }
        Expect::Torn(_) => {
            let (j, report) = opened.unwrap_or_else(|e| panic!("{label}: {e}"));
            assert_eq!(report.heals.len(), 1, "{label}");
            let q = Path::new("/data").join(report.heals[0].quarantined.as_ref().unwrap());
            let torn_segment = &report.heals[0].path;
            let original = segments
                .iter()
                .find(|(n, _)| torn_segment.ends_with(n.as_str()))
                .map(|(_, b)| b.clone())
                .unwrap();
            assert_eq!(
                storage.read(&q).unwrap(),
                original,
                "{label}: quarantine copy differs"
            );
            assert_eq!(append_one(&j), valid + 1, "{label}");
            drop(j);
            let rescan = journal::scan(&storage, &dir(), &mut |_| Ok(())).unwrap();
            assert_eq!(
                (rescan.verdict, rescan.records),
                (Verdict::Clean, valid + 1),
                "{label}"
            );
        }
        Expect::Clean(_) => {
            let (_, report) = opened.unwrap_or_else(|e| panic!("{label}: {e}"));
            assert!(report.heals.is_empty(), "{label}");
        }
    }
}

#[test]
fn truncation_and_byte_flips_at_every_offset() {
    let segs = pristine();
    let n0 = segs[0].2.len() as u64;
    let n1 = segs[1].2.len() as u64;
    let mut cases = 0;
    for (s, (name, bytes, ends)) in segs.iter().enumerate() {
        let last = s == segs.len() - 1;
        let before = if s == 0 { 0 } else { n0 };
        let n_s = ends.len() as u64;
        for o in 0..bytes.len() {
            let complete = ends.iter().filter(|e| **e <= o).count() as u64;
            let boundary = o == 0 || ends.contains(&o);
            let with = |seg: Vec<u8>| {
                let mut v: Vec<(String, Vec<u8>)> = segs
                    .iter()
                    .map(|(n, b, _)| (n.clone(), b.clone()))
                    .collect();
                v[s] = (name.clone(), seg);
                v
            };
            // Truncate at o.
            let expect = match (last, boundary) {
                (true, true) => Expect::Clean(before + complete),
                (true, false) => Expect::Torn(before + complete),
                (false, _) => Expect::Dangerous(before + complete),
            };
            check(
                &format!("{name} truncated at {o}"),
                &with(bytes[..o].to_vec()),
                expect,
            );
            // Flip byte o.
            let record = complete; // index of the record holding byte o
            let is_newline = bytes[o] == b'\n';
            for mask in [0xffu8, 0x01] {
                let mut flipped = bytes.clone();
                flipped[o] ^= mask;
                let expect = if !last {
                    Expect::Dangerous(before + record)
                } else if record == n_s - 1 {
                    Expect::Torn(before + n_s - 1)
                } else if record == n_s - 2 && is_newline {
                    Expect::Torn(before + n_s - 2) // two records merged into one bad last line
                } else {
                    Expect::Dangerous(before + record)
                };
                check(
                    &format!("{name} byte {o} ^ {mask:#x}"),
                    &with(flipped),
                    expect,
                );
                cases += 1;
            }
        }
    }
    assert!(cases > 2000, "{cases}");
    assert_eq!(n0 + n1, 12);
}

#[test]
fn a_missing_segment_is_a_seq_gap() {
    let segs = pristine();
    let only_second = vec![(segs[1].0.clone(), segs[1].1.clone())];
    check("first segment missing", &only_second, Expect::Dangerous(0));
}

#[test]
fn snapshot_truncated_or_flipped_anywhere_falls_back_to_the_previous_one() {
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
    let old = Ledger {
        count: 5,
        last_seq: 5,
        digest: Ledger::expected(5),
    };
    let new = Ledger {
        count: 10,
        last_seq: 10,
        digest: Ledger::expected(10),
    };
    snaps.write(5, 0, &old).unwrap();
    let newest = snaps.write(10, 0, &new).unwrap();
    let pristine_fs = storage.fs();
    let bytes = storage.read(&newest).unwrap();
    let mut mutations: Vec<(String, Vec<u8>)> = Vec::new();
    for o in 0..bytes.len() {
        mutations.push((format!("truncated at {o}"), bytes[..o].to_vec()));
        let mut f = bytes.clone();
        f[o] ^= 0xff;
        mutations.push((format!("byte {o} flipped"), f));
    }
    for (label, content) in mutations {
        let s = SimStorage::from_fs(pristine_fs.clone());
        let mut f = s.create_truncate(&newest).unwrap();
        f.write_all(&content).unwrap();
        f.sync_data().unwrap();
        let snaps = Snapshots {
            storage: &s,
            layout: &layout,
            clock: &*clk,
            name: "engine",
            retain: 2,
        };
        let loaded = snaps
            .load::<Ledger>()
            .unwrap_or_else(|e| panic!("{label}: {e}"));
        assert_eq!(loaded.newest, Some((5, old.clone())), "{label}");
        assert_eq!(loaded.heals.len(), 1, "{label}");
        let q = Path::new("/data").join(loaded.heals[0].quarantined.as_ref().unwrap());
        assert_eq!(
            s.read(&q).unwrap(),
            content,
            "{label}: quarantine holds the damaged file"
        );
        assert!(
            !s.exists(&newest),
            "{label}: the damaged snapshot is no longer in state/"
        );
    }
}
