//! Journal behaviour on real files and on the simulated file system: appends, reopen,
//! segment roll, group commit, limits, schema checks.

mod common;

use std::io;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};

use ballast_store::journal::{self, JournalError, JournalOptions, OpenPolicy, Verdict};
use ballast_store::sim::{Op, SimStorage};
use ballast_store::storage::StorageFile;
use ballast_store::{Journal, Layout, RealStorage, Storage};
use common::{Entry, clock};

fn open(
    storage: Arc<dyn Storage>,
    layout: &Layout,
    opts: JournalOptions,
) -> Result<Journal, JournalError> {
    Journal::open(
        storage,
        layout,
        &layout.engine_journal(),
        clock(),
        opts,
        OpenPolicy::RefuseDangerous,
        &mut |_| Ok(()),
    )
    .map(|(j, _)| j)
}

fn entry(n: u64) -> Entry {
    Entry {
        n,
        pad: String::new(),
    }
}

#[test]
fn real_files_append_roll_reopen_and_read_back_with_jq_shape() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = Layout::new(tmp.path());
    let opts = JournalOptions {
        segment_max_bytes: 4096,
        ..JournalOptions::default()
    };
    let j = open(Arc::new(RealStorage), &layout, opts).unwrap();
    for n in 1..=100 {
        assert_eq!(j.append("entry", &entry(n)).unwrap(), n);
    }
    drop(j);
    let j = open(Arc::new(RealStorage), &layout, opts).unwrap();
    assert_eq!(j.durable_seq(), 100);
    assert_eq!(
        j.append_many([("entry", &entry(101)), ("entry", &entry(102))])
            .unwrap(),
        102
    );
    let segments = std::fs::read_dir(layout.engine_journal()).unwrap().count();
    assert!(segments >= 3, "{segments} segments");
    let scan = journal::scan(&RealStorage, &layout.engine_journal(), &mut |_| Ok(())).unwrap();
    assert_eq!(
        (scan.records, scan.last_seq, scan.verdict),
        (102, 102, Verdict::Clean)
    );
    // Every line is plain JSON with the documented fields.
    let first = std::fs::read_to_string(layout.engine_journal().join("00000000000000000001.jsonl"))
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(first.lines().next().unwrap()).unwrap();
    for field in ["v", "seq", "ts", "type", "body", "crc"] {
        assert!(v.get(field).is_some(), "missing {field}");
    }
}

/// A storage whose first journal fsync blocks until the test opens the gate.
#[derive(Debug)]
struct Gated {
    inner: SimStorage,
    gate: Arc<(Mutex<(bool, bool)>, Condvar)>, // (leader is syncing, gate open)
}

struct GatedFile {
    inner: Box<dyn StorageFile>,
    gate: Arc<(Mutex<(bool, bool)>, Condvar)>,
}

impl StorageFile for GatedFile {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.inner.write_all(buf)
    }
    fn sync_data(&mut self) -> io::Result<()> {
        let (m, c) = &*self.gate;
        let mut g = m.lock().unwrap();
        g.0 = true;
        c.notify_all();
        while !g.1 {
            g = c.wait(g).unwrap();
        }
        drop(g);
        self.inner.sync_data()
    }
    fn set_len(&mut self, len: u64) -> io::Result<()> {
        self.inner.set_len(len)
    }
}

impl Storage for Gated {
    fn create_dir_all(&self, d: &Path) -> io::Result<()> {
        self.inner.create_dir_all(d)
    }
    fn list(&self, d: &Path) -> io::Result<Vec<String>> {
        self.inner.list(d)
    }
    fn read(&self, p: &Path) -> io::Result<Vec<u8>> {
        self.inner.read(p)
    }
    fn exists(&self, p: &Path) -> bool {
        self.inner.exists(p)
    }
    fn create_new(&self, p: &Path) -> io::Result<Box<dyn StorageFile>> {
        let inner = self.inner.create_new(p)?;
        Ok(Box::new(GatedFile {
            inner,
            gate: self.gate.clone(),
        }))
    }
    fn create_truncate(&self, p: &Path) -> io::Result<Box<dyn StorageFile>> {
        self.inner.create_truncate(p)
    }
    fn open_append(&self, p: &Path) -> io::Result<Box<dyn StorageFile>> {
        self.inner.open_append(p)
    }
    fn rename(&self, a: &Path, b: &Path) -> io::Result<()> {
        self.inner.rename(a, b)
    }
    fn remove_file(&self, p: &Path) -> io::Result<()> {
        self.inner.remove_file(p)
    }
    fn sync_dir(&self, d: &Path) -> io::Result<()> {
        self.inner.sync_dir(d)
    }
}

#[test]
fn concurrent_appends_are_group_committed_in_one_sync() {
    let sim = SimStorage::new();
    let gate = Arc::new((Mutex::new((false, false)), Condvar::new()));
    let storage = Arc::new(Gated {
        inner: sim.clone(),
        gate: gate.clone(),
    });
    let layout = Layout::new("/data");
    let j = open(storage, &layout, JournalOptions::default()).unwrap();
    std::thread::scope(|s| {
        // The leader: its sync blocks at the gate.
        let leader = {
            let j = j.clone();
            s.spawn(move || j.append("entry", &entry(1)).unwrap())
        };
        {
            let (m, c) = &*gate;
            let mut g = m.lock().unwrap();
            while !g.0 {
                g = c.wait(g).unwrap();
            }
        }
        // Seven followers queue behind it.
        let followers: Vec<_> = (0..7)
            .map(|i| {
                let j = j.clone();
                s.spawn(move || j.append("entry", &entry(10 + i)).unwrap())
            })
            .collect();
        // Each follower's framed record is 105 bytes: wait until all seven are queued.
        while j.queued_bytes() < 7 * 100 {
            std::thread::yield_now();
        }
        {
            let (m, c) = &*gate;
            m.lock().unwrap().1 = true;
            c.notify_all();
        }
        assert_eq!(leader.join().unwrap(), 1);
        let mut seqs: Vec<u64> = followers.into_iter().map(|h| h.join().unwrap()).collect();
        seqs.sort();
        assert_eq!(seqs, (2..=8).collect::<Vec<_>>());
    });
    let syncs = sim
        .log()
        .iter()
        .filter(|op| matches!(op, Op::Sync { .. }))
        .count();
    assert_eq!(syncs, 2, "8 appends, 2 syncs: the 7 followers shared one");
    assert_eq!(j.durable_seq(), 8);
}

#[test]
fn many_threads_get_unique_contiguous_seqs_on_real_files() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = Layout::new(tmp.path());
    let j = open(
        Arc::new(RealStorage),
        &layout,
        JournalOptions {
            segment_max_bytes: 8192,
            ..Default::default()
        },
    )
    .unwrap();
    let mut all: Vec<u64> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..8)
            .map(|t| {
                let j = j.clone();
                s.spawn(move || {
                    (0..50)
                        .map(|i| j.append("entry", &entry(t * 1000 + i)).unwrap())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    all.sort();
    assert_eq!(all, (1..=400).collect::<Vec<_>>());
    let scan = journal::scan(&RealStorage, &layout.engine_journal(), &mut |_| Ok(())).unwrap();
    assert_eq!((scan.records, scan.verdict), (400, Verdict::Clean));
}

#[test]
fn bad_records_are_refused_before_anything_is_written() {
    let sim = SimStorage::new();
    let layout = Layout::new("/data");
    let opts = JournalOptions {
        max_record_bytes: 512,
        ..Default::default()
    };
    let j = open(Arc::new(sim.clone()), &layout, opts).unwrap();
    let big = Entry {
        n: 1,
        pad: "x".repeat(600),
    };
    let e = j.append("entry", &big).unwrap_err();
    assert!(matches!(e, JournalError::RecordTooLarge { .. }), "{e:?}");
    assert!(e.to_string().contains("max_record_bytes"), "{e}");
    let e = j.append("Bad Kind", &entry(1)).unwrap_err();
    assert!(matches!(e, JournalError::InvalidKind(_)), "{e:?}");
    let mut map = std::collections::HashMap::new();
    map.insert(vec![1u8], 1); // a map with non-string keys cannot be JSON
    let e = j.append("entry", &map).unwrap_err();
    assert!(matches!(e, JournalError::Serialize { .. }), "{e:?}");
    assert_eq!(
        j.append("entry", &entry(1)).unwrap(),
        1,
        "the writer is still healthy"
    );
}

#[test]
fn a_journal_from_a_newer_schema_is_refused_in_every_mode() {
    let sim = SimStorage::new();
    let layout = Layout::new("/data");
    let line = br#"{"v":2,"seq":1,"ts":"2026-01-01T00:00:00.000Z","type":"entry","body":{}"#;
    let crc = crc32c::crc32c(line);
    let mut bytes = line.to_vec();
    bytes.extend_from_slice(format!(",\"crc\":\"{crc:08x}\"}}\n").as_bytes());
    sim.create_dir_all(&layout.engine_journal()).unwrap();
    let mut f = sim
        .create_new(&layout.engine_journal().join("00000000000000000001.jsonl"))
        .unwrap();
    f.write_all(&bytes).unwrap();
    for policy in [OpenPolicy::RefuseDangerous, OpenPolicy::SalvageDangerous] {
        let e = Journal::open(
            Arc::new(sim.clone()),
            &layout,
            &layout.engine_journal(),
            clock(),
            JournalOptions::default(),
            policy,
            &mut |_| Ok(()),
        )
        .unwrap_err();
        assert!(matches!(e, JournalError::NewerSchema { .. }), "{e:?}");
        assert!(e.to_string().contains("newer Ballast"), "{e}");
    }
}
