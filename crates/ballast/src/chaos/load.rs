//! Signal load on a running instance: one signal every [`EVERY`], alternately a line appended
//! to the inbox and a `POST /v1/signals`, each with its own idempotency key. A signal is
//! *acknowledged* when its line is written (the inbox is the producer's durable hand-off) or
//! the API answered 202; only those are owed by the ledger. Bounded: at most [`MAX_SIGNALS`]
//! per load (then it stops sending and says so in its count).

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::http;
use super::rng::Rng;

/// The pace of the load.
pub const EVERY: Duration = Duration::from_millis(250);
/// Signals sent by one load at most.
pub const MAX_SIGNALS: usize = 20_000;

/// What the load did so far.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    /// Idempotency keys acknowledged.
    pub acked: Vec<String>,
    /// Signals tried and not acknowledged (API down, 429…): not owed.
    pub refused: u64,
}

pub struct Load {
    stop: Arc<AtomicBool>,
    tally: Arc<Mutex<Tally>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Where the load sends: the data directory (its inbox and `run/api.*`).
#[derive(Debug, Clone)]
pub struct Target {
    pub data: PathBuf,
    /// Prefix of the idempotency keys (unique per run).
    pub prefix: String,
}

impl Load {
    pub fn start(target: Target, seed: u64) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let tally = Arc::new(Mutex::new(Tally::default()));
        let (s, t) = (Arc::clone(&stop), Arc::clone(&tally));
        let thread = std::thread::spawn(move || run(&target, seed, &s, &t));
        Load {
            stop,
            tally,
            thread: Some(thread),
        }
    }

    /// Stop sending; what was acknowledged.
    pub fn finish(mut self) -> Tally {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.tally.lock().map(|t| t.clone()).unwrap_or_default()
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(target: &Target, seed: u64, stop: &AtomicBool, tally: &Mutex<Tally>) {
    let mut rng = Rng::new(seed);
    let mut n = 0usize;
    while !stop.load(Ordering::SeqCst) && n < MAX_SIGNALS {
        n += 1;
        let key = format!("{}-{n}", target.prefix);
        let symbol = if rng.below(2) == 0 { "MSFT" } else { "AAPL" };
        let side = if rng.below(2) == 0 { "buy" } else { "sell" };
        let line = format!(
            "{{\"symbol\":\"{symbol}\",\"side\":\"{side}\",\"qty\":\"1\",\"strategy\":\"chaos\",\"idempotency_key\":\"{key}\"}}"
        );
        let acked = if n % 2 == 0 {
            post(target, &line)
        } else {
            append(target, &line)
        };
        if let Ok(mut t) = tally.lock() {
            if acked {
                t.acked.push(key);
            } else {
                t.refused += 1;
            }
        }
        // The load's pace, not a synchronisation.
        std::thread::sleep(EVERY);
    }
}

/// One line appended to the inbox in one write (the engine never sees half of it).
fn append(target: &Target, line: &str) -> bool {
    let path = ballast_store::Layout::new(&target.data)
        .inbox()
        .join("signals.jsonl");
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(format!("{line}\n").as_bytes()))
        .is_ok()
}

/// `POST /v1/signals` with the operator token; whether it answered 202.
fn post(target: &Target, body: &str) -> bool {
    let layout = ballast_store::Layout::new(&target.data);
    let Ok(addr) = std::fs::read_to_string(layout.api_addr()) else {
        return false;
    };
    let Ok(addr) = addr.trim().trim_start_matches("http://").parse() else {
        return false;
    };
    let Ok(token) = std::fs::read_to_string(layout.api_token()) else {
        return false;
    };
    http::request(addr, "POST", "/v1/signals", body, Some(token.trim()))
        .is_ok_and(|a| a.status == 202)
}
