//! CI's fuzz smoke run, on stable: every target of `ballast-fuzz` over its committed seed
//! corpus (`fuzz/corpus/<target>/`), then over random bytes, mutated corpus entries and
//! structured JSON built from the corpus's own field names, each for a bounded budget
//! (`BALLAST_FUZZ_SMOKE_MS` per target, default 2000 ms; `BALLAST_FUZZ_SEED` picks the random
//! seed, printed in the log so a failure can be run again). A failing input is written to
//! `target/fuzz-smoke/<target>-<hash>` and its bytes printed: add it to the target's corpus and
//! name it in `tests/regressions.rs`.

use std::collections::BTreeSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use ballast_fuzz::{TARGETS, Target};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::Value;

/// Inputs tried per target at most (the time budget usually ends a target first).
const MAX_CASES: usize = 50_000;

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target)
}

/// The committed corpus of `target`, sorted by file name.
fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = corpus_dir(target);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("no corpus at {}: {e}", dir.display()))
        .map(|e| {
            let path = e.expect("a corpus entry").path();
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            (
                name.unwrap_or_default(),
                std::fs::read(&path).expect("a corpus file"),
            )
        })
        .collect();
    out.sort();
    out
}

/// Run `input` through `target`; a panic is the finding, kept where it can be found again.
fn run(target: &Target, input: &[u8]) -> Result<(), String> {
    catch_unwind(AssertUnwindSafe(|| (target.run)(input))).map_err(|panic| {
        let why = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_default();
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/fuzz-smoke");
        let _ = std::fs::create_dir_all(&dir);
        let file = dir.join(format!("{}-{:016x}", target.name, fnv(input)));
        let _ = std::fs::write(&file, input);
        format!(
            "target {} panicked ({why}) on {} bytes, kept in {}: {:?}",
            target.name,
            input.len(),
            file.display(),
            String::from_utf8_lossy(&input[..input.len().min(300)])
        )
    })
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[test]
fn every_target_has_a_corpus_and_runs_it_clean() {
    let mut failures = Vec::new();
    for target in TARGETS {
        let entries = corpus(target.name);
        assert!(!entries.is_empty(), "target {} has no corpus", target.name);
        for (name, bytes) in &entries {
            if let Err(e) = run(target, bytes) {
                failures.push(format!("{name}: {e}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_fuzz_target_file_names_a_target_and_every_target_has_one() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/fuzz_targets");
    let files: BTreeSet<String> = std::fs::read_dir(&dir)
        .expect("fuzz/fuzz_targets")
        .filter_map(|e| {
            let p = e.ok()?.path();
            Some(p.file_stem()?.to_string_lossy().into_owned())
        })
        .collect();
    let names: BTreeSet<String> = TARGETS.iter().map(|t| t.name.to_owned()).collect();
    assert_eq!(files, names);
}

/// The random seed: `BALLAST_FUZZ_SEED`, else a fresh one (printed).
fn seed() -> u64 {
    let seed = std::env::var("BALLAST_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    println!("fuzz smoke seed: BALLAST_FUZZ_SEED={seed}");
    seed
}

fn budget() -> Duration {
    let ms = std::env::var("BALLAST_FUZZ_SMOKE_MS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000);
    Duration::from_millis(ms)
}

/// The JSON member names and short string values of a corpus, for structured inputs.
fn vocabulary(entries: &[(String, Vec<u8>)]) -> (Vec<String>, Vec<String>) {
    fn walk(v: &Value, keys: &mut BTreeSet<String>, words: &mut BTreeSet<String>) {
        match v {
            Value::Object(m) => m.iter().for_each(|(k, v)| {
                keys.insert(k.clone());
                walk(v, keys, words);
            }),
            Value::Array(a) => a.iter().for_each(|v| walk(v, keys, words)),
            Value::String(s) if s.len() <= 40 => {
                words.insert(s.clone());
            }
            _ => {}
        }
    }
    let (mut keys, mut words) = (BTreeSet::new(), BTreeSet::new());
    for (_, bytes) in entries {
        for text in [&bytes[..], bytes.get(1..).unwrap_or_default()] {
            if let Ok(v) = serde_json::from_slice::<Value>(text) {
                walk(&v, &mut keys, &mut words);
            }
        }
    }
    keys.insert("version".into());
    words.extend(
        [
            "",
            "0",
            "-1",
            "1e400",
            "2026-12-01T00:00:00Z",
            "NaN",
            "\u{0}",
        ]
        .map(String::from),
    );
    (keys.into_iter().collect(), words.into_iter().collect())
}

/// A JSON value of the corpus's own names and words (and edge values).
fn json(keys: Vec<String>, words: Vec<String>) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        proptest::sample::select(words.clone()).prop_map(Value::String),
        (any::<i32>(), 0u32..30).prop_map(|(m, s)| Value::String(format!("{m}e-{s}"))),
        "\\PC{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 8, move |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            vec((proptest::sample::select(keys.clone()), inner), 0..8)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// An edit of a corpus entry: flip, insert, remove, cut or repeat bytes.
#[derive(Debug, Clone)]
enum Edit {
    Set(usize, u8),
    Insert(usize, Vec<u8>),
    Remove(usize, usize),
    Cut(usize),
    Repeat(usize, usize, usize),
}

fn apply(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for edit in edits {
        let len = bytes.len().max(1);
        match edit {
            Edit::Set(i, b) if !bytes.is_empty() => bytes[i % len] = *b,
            Edit::Insert(i, more) => {
                let at = i % (bytes.len() + 1);
                bytes.splice(at..at, more.iter().copied());
            }
            Edit::Remove(i, n) if !bytes.is_empty() => {
                let at = i % len;
                let end = (at + n).min(bytes.len());
                bytes.drain(at..end);
            }
            Edit::Cut(i) => bytes.truncate(i % (bytes.len() + 1)),
            Edit::Repeat(i, n, times) if !bytes.is_empty() => {
                let at = i % len;
                let end = (at + n).min(bytes.len());
                let chunk = bytes[at..end].to_vec();
                for _ in 0..*times {
                    bytes.splice(end..end, chunk.iter().copied());
                }
            }
            _ => {}
        }
    }
    bytes
}

fn edit() -> impl Strategy<Value = Edit> {
    let at = any::<usize>();
    prop_oneof![
        (at, any::<u8>()).prop_map(|(i, b)| Edit::Set(i, b)),
        (at, vec(any::<u8>(), 1..8)).prop_map(|(i, b)| Edit::Insert(i, b)),
        (
            at,
            proptest::sample::select(
                [
                    "\"",
                    "\n",
                    "{",
                    "}",
                    "[",
                    ",",
                    "\\u0000",
                    "null",
                    "\"crc\":\""
                ]
                .map(|s| s.as_bytes().to_vec())
                .to_vec()
            )
        )
            .prop_map(|(i, b)| Edit::Insert(i, b)),
        (at, 1usize..64).prop_map(|(i, n)| Edit::Remove(i, n)),
        at.prop_map(Edit::Cut),
        (at, 1usize..32, 1usize..16).prop_map(|(i, n, t)| Edit::Repeat(i, n, t)),
    ]
}

/// Inputs for one target: random bytes, mutated corpus entries, and structured JSON behind a
/// corpus entry's selector byte.
fn inputs(entries: &[(String, Vec<u8>)]) -> impl Strategy<Value = Vec<u8>> {
    let seeds: Vec<Vec<u8>> = entries.iter().map(|(_, b)| b.clone()).collect();
    let selectors: Vec<u8> = seeds
        .iter()
        .map(|b| b.first().copied().unwrap_or(0))
        .collect();
    let (keys, words) = vocabulary(entries);
    prop_oneof![
        1 => vec(any::<u8>(), 0..512),
        4 => (proptest::sample::select(seeds), vec(edit(), 1..6))
            .prop_map(|(seed, edits)| apply(seed, &edits)),
        3 => (proptest::sample::select(selectors), any::<bool>(), json(keys, words)).prop_map(
            |(sel, raw, v)| {
                let text = v.to_string();
                if raw {
                    text.into_bytes()
                } else {
                    let mut b = vec![sel];
                    b.extend_from_slice(text.as_bytes());
                    b
                }
            }
        ),
    ]
}

#[test]
fn every_target_survives_random_mutated_and_structured_inputs() {
    let seed = seed();
    let budget = budget();
    let mut failures = Vec::new();
    for (i, target) in TARGETS.iter().enumerate() {
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&seed.to_le_bytes());
        key[8] = i as u8;
        let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &key);
        let mut runner = TestRunner::new_with_rng(Config::default(), rng);
        let entries = corpus(target.name);
        let strategy = inputs(&entries);
        let started = Instant::now();
        let mut cases = 0usize;
        while started.elapsed() < budget && cases < MAX_CASES {
            let Ok(tree) = strategy.new_tree(&mut runner) else {
                continue;
            };
            cases += 1;
            if let Err(e) = run(target, &tree.current()) {
                failures.push(e);
                break;
            }
        }
        println!(
            "fuzz smoke {}: {cases} inputs in {} ms",
            target.name,
            started.elapsed().as_millis()
        );
    }
    assert!(failures.is_empty(), "seed {seed}:\n{}", failures.join("\n"));
}
