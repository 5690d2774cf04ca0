//! Real kill -9: a child process appends (several threads, group commit) and writes
//! snapshots, reporting each acknowledged seq over a pipe; the parent SIGKILLs it after a
//! random number of acknowledgements, recovers the journal from the real files, and checks
//! that every acknowledged record is there, nothing was invented and seqs are contiguous.
//! The next round's child recovers and continues the same journal.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use ballast_store::journal::{JournalOptions, OpenPolicy};
use ballast_store::snapshot::Snapshots;
use ballast_store::{Layout, RealStorage, Storage, SystemClock};
use common::{Entry, Ledger, recover_ledger, spec};
use serde::{Deserialize, Serialize};

const CHILD_ENV: &str = "BALLAST_TEST_KILL9_DIR";
const ROUNDS_ENV: &str = "BALLAST_KILL9_ROUNDS";
const OPTS: JournalOptions = JournalOptions {
    segment_max_bytes: 16 * 1024,
    max_record_bytes: 4096,
    max_pending_bytes: 1 << 20,
};

#[derive(Serialize, Deserialize)]
struct Noise {
    thread: u64,
    i: u64,
}

/// The child's body: runs only when the parent starts this test binary with `CHILD_ENV`.
#[test]
fn kill9_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let layout = Layout::new(dir);
    let storage: Arc<dyn Storage> = Arc::new(RealStorage);
    let sp = spec(
        storage.clone(),
        &layout,
        Arc::new(SystemClock),
        OPTS,
        OpenPolicy::RefuseDangerous,
    );
    let (journal, rec) = recover_ledger(&sp).expect("child recovery");
    let out = Arc::new(Mutex::new(std::io::stdout()));
    let say = |out: &Mutex<std::io::Stdout>, line: String| {
        let mut o = out.lock().unwrap();
        writeln!(o, "{line}").unwrap();
        o.flush().unwrap();
    };
    say(&out, format!("READY {}", rec.last_seq));
    // Noise appenders: concurrent records of another type, so appends are group-committed.
    let start_i = rec.last_seq;
    for thread in 0..3u64 {
        let journal = journal.clone();
        let out = Arc::clone(&out);
        std::thread::spawn(move || {
            for i in start_i.. {
                let seq = journal
                    .append("noise", &Noise { thread, i })
                    .expect("noise append");
                say(&out, format!("ACK {seq} noise {thread}:{i}"));
            }
        });
    }
    let mut ledger = rec.state;
    loop {
        let n = ledger.count + 1;
        let (seq, crc) = journal
            .append_record(
                "entry",
                &Entry {
                    n,
                    pad: "p".repeat((n % 90) as usize),
                },
            )
            .expect("append");
        // The ledger folds records in seq order; noise records do not change it.
        ledger.count = n;
        ledger.last_seq = seq;
        ledger.digest = common::mix(ledger.digest, n);
        say(&out, format!("ACK {seq} entry {n}"));
        if n % 7 == 0 {
            let snaps = Snapshots {
                storage: &*storage,
                layout: &layout,
                clock: &SystemClock,
                name: "engine",
                retain: 2,
            };
            snaps.write(seq, crc, &ledger).expect("snapshot");
        }
    }
}

/// A small deterministic generator (splitmix64) for the kill moments.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[test]
fn kill9_at_random_moments_loses_no_acknowledged_record() {
    let rounds: u64 = std::env::var(ROUNDS_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let exe = std::env::current_exe().unwrap();
    let mut rng = 0x5eed_u64 ^ rounds;
    // seq → (type, value) of everything acknowledged so far, over all rounds.
    let mut acked: HashMap<u64, (String, String)> = HashMap::new();
    for round in 0..rounds {
        let kill_after = 1 + next(&mut rng) % 80;
        let mut child = Command::new(&exe)
            .args(["kill9_child", "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, &dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut seen = 0;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let mut parts = line.split(' ');
            if parts.next() != Some("ACK") {
                continue;
            }
            let seq: u64 = parts.next().unwrap().parse().unwrap();
            let kind = parts.next().unwrap().to_owned();
            let value = parts.next().unwrap().to_owned();
            assert!(
                acked.insert(seq, (kind, value)).is_none(),
                "round {round}: seq {seq} acknowledged twice"
            );
            seen += 1;
            if seen == kill_after {
                child.kill().unwrap(); // SIGKILL
                break;
            }
        }
        child.wait().unwrap();

        // Recover from the real files and check.
        let layout = Layout::new(&dir);
        let storage: Arc<dyn Storage> = Arc::new(RealStorage);
        let sp = spec(
            storage.clone(),
            &layout,
            Arc::new(SystemClock),
            OPTS,
            OpenPolicy::RefuseDangerous,
        );
        let (journal, rec) = recover_ledger(&sp).unwrap_or_else(|e| {
            panic!("round {round} (killed after {kill_after} acks): recovery failed: {e}")
        });
        drop(journal);
        let records = common::all_records(&*storage, &layout.engine_journal());
        let by_seq: HashMap<u64, (String, String)> = records
            .iter()
            .map(|(seq, kind, body)| {
                let value = if kind == "entry" {
                    serde_json::from_str::<Entry>(body).unwrap().n.to_string()
                } else {
                    let nz: Noise = serde_json::from_str(body).unwrap();
                    format!("{}:{}", nz.thread, nz.i)
                };
                (*seq, (kind.clone(), value))
            })
            .collect();
        for (i, (seq, _, _)) in records.iter().enumerate() {
            assert_eq!(*seq, i as u64 + 1, "round {round}: seqs are not contiguous");
        }
        for (seq, v) in &acked {
            assert_eq!(
                by_seq.get(seq),
                Some(v),
                "round {round}: acknowledged seq {seq} lost or changed"
            );
        }
        let entries = records.iter().filter(|(_, k, _)| k == "entry").count() as u64;
        assert_eq!(
            rec.state.count, entries,
            "round {round}: snapshot+replay disagrees with the journal"
        );
        assert_eq!(
            rec.state.digest,
            Ledger::expected(entries),
            "round {round}: entries out of order"
        );
    }
    assert!(
        acked.len() as u64 >= rounds,
        "the children acknowledged too little"
    );
}
