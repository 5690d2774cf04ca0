//! The simulated world: the engine's state and its journal on simulated storage, the checker
//! fed with every durable record, and what happens to the engine as a process — a commit
//! (append durable, maybe die, apply), a snapshot, a death and a restart from what the disk
//! holds. No threads, no files, no wall clock: the storage is `SimStorage`, the clock manual.

use std::sync::Arc;

use ballast_core::config::Config;
use ballast_core::engine::{EngineRecord, EngineState, JournalStamp, PAPER, TrimRules};
use ballast_core::guard::Limits;
use ballast_core::ledger::{self, Checker};
use ballast_core::{Clock, ManualClock, Timestamp};
use ballast_store::journal::scan;
use ballast_store::recovery::{RecoverError, RecoverSpec, recover};
use ballast_store::sim::SimStorage;
use ballast_store::snapshot::Snapshots;
use ballast_store::{Journal, JournalError, JournalOptions, Layout, OpenPolicy, Storage};

use crate::Figures;
use crate::rng::Rng;

/// Records between two snapshots of the engine state.
pub const SNAPSHOT_EVERY_RECORDS: u64 = 150;
/// Snapshots kept.
pub const SNAPSHOT_RETAIN: usize = 2;
/// Lines of the trace kept (the rest are counted).
pub const MAX_TRACE_LINES: usize = 400;

/// Why the engine process is gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Down {
    /// Killed (kill -9, power cut): restarted from a crash image of the disk.
    Crash,
    /// Stopped on a storage failure (the journal refuses further appends); restarted on the
    /// same disk once it is back.
    Storage(String),
    /// Stopped cleanly (a deploy).
    Stopped,
    /// A record did not apply to the state: a bug.
    Bug(String),
}

pub struct World {
    pub cfg: Config,
    pub limits: Limits,
    pub trim: TrimRules,
    pub storage: SimStorage,
    pub layout: Layout,
    pub clock: Arc<ManualClock>,
    pub journal: Option<Journal>,
    pub state: EngineState,
    pub checker: Checker,
    /// A record whose append failed: it may or may not be on the disk.
    pub in_flight: Option<EngineRecord>,
    pub since_snapshot: u64,
    pub rng: Rng,
    /// Records to commit before the engine dies (a planned crash).
    pub crash_after: Option<u8>,
    pub figures: Figures,
    pub trace: Vec<String>,
    pub trace_left_off: usize,
    /// Problems found (the run fails at the first minute that has any).
    pub problems: Vec<String>,
}

fn journal_opts() -> JournalOptions {
    JournalOptions {
        segment_max_bytes: 256 << 10,
        ..JournalOptions::default()
    }
}

impl World {
    pub fn new(cfg: Config, seed: u64, start: Timestamp) -> World {
        let limits = Limits::from(&cfg);
        let trim = TrimRules::from(&cfg);
        let state = EngineState::new(&cfg);
        World {
            checker: Checker::new(&state, &limits),
            limits,
            trim,
            storage: SimStorage::new(),
            layout: Layout::new("/sim/ballast-data"),
            clock: Arc::new(ManualClock::new(start)),
            journal: None,
            state,
            in_flight: None,
            since_snapshot: 0,
            rng: crate::rng::seeded(seed ^ 0xC0FFEE),
            crash_after: None,
            figures: Figures::default(),
            trace: Vec::new(),
            trace_left_off: 0,
            problems: Vec::new(),
            cfg,
        }
    }

    pub fn say(&mut self, line: String) {
        if self.trace.len() < MAX_TRACE_LINES {
            self.trace.push(line);
        } else {
            self.trace_left_off += 1;
        }
    }

    /// Journal `record` (durable), maybe die (a planned crash: after the append, before the
    /// apply, as the runtime's chaos hook), then apply it.
    pub fn commit(&mut self, record: EngineRecord) -> Result<u64, Down> {
        let journal = self.journal.as_ref().ok_or(Down::Stopped)?;
        let seq = match journal.append(record.kind(), &record.body()) {
            Ok(seq) => seq,
            Err(e) => {
                self.in_flight = Some(record);
                return Err(Down::Storage(e.to_string()));
            }
        };
        self.checker.record(seq, &record);
        self.figures.records += 1;
        self.since_snapshot += 1;
        match self.crash_after {
            Some(0) => {
                self.crash_after = None;
                return Err(Down::Crash);
            }
            Some(n) => self.crash_after = Some(n - 1),
            None => {}
        }
        self.state.apply(&record, &self.limits).map_err(|e| {
            Down::Bug(format!(
                "record seq {seq} ({}) did not apply: {e}",
                record.kind()
            ))
        })?;
        Ok(seq)
    }

    /// A snapshot when enough records passed since the last (as the runtime does).
    pub fn snapshot_if_due(&mut self) -> Result<(), Down> {
        if self.since_snapshot < SNAPSHOT_EVERY_RECORDS {
            return Ok(());
        }
        let Some((seq, crc)) = self.journal.as_ref().and_then(|j| j.durable_record()) else {
            return Ok(());
        };
        let snaps = Snapshots {
            storage: &self.storage,
            layout: &self.layout,
            clock: &*self.clock,
            name: "engine",
            retain: SNAPSHOT_RETAIN,
        };
        snaps
            .write(seq, crc, &self.state)
            .map_err(|e| Down::Storage(format!("snapshot at seq {seq}: {e}")))?;
        self.since_snapshot = 0;
        self.figures.snapshots += 1;
        Ok(())
    }

    /// Start the engine: recover from what the disk holds (after a crash: one of the
    /// images a power cut could leave), check that recovery rebuilt exactly the state the
    /// durable records replay to, stamp a fresh journal.
    pub fn start(&mut self, after: Option<&Down>) -> Result<(), Down> {
        self.journal = None;
        // After a kill, or a storage failure half the time: the machine loses power too.
        let power_cut = match after {
            Some(Down::Crash) => true,
            Some(Down::Storage(_)) => self.rng.chance(500),
            _ => false,
        };
        if power_cut {
            let images = self.storage.fs().crash_images();
            let pick = self.rng.below(images.len() as u64) as usize;
            if let Some((name, fs)) = images.into_iter().nth(pick) {
                self.say(format!("  power cut: the disk wakes up as {name:?}"));
                self.storage = SimStorage::from_fs(fs);
            }
        }
        self.layout
            .create(&self.storage)
            .map_err(|e| Down::Storage(format!("data directory: {e}")))?;
        let storage: Arc<dyn Storage> = Arc::new(self.storage.clone());
        let clock: Arc<dyn Clock> = self.clock.clone();
        let spec = RecoverSpec {
            storage,
            layout: &self.layout,
            clock,
            opts: journal_opts(),
            policy: OpenPolicy::SalvageDangerous,
            snapshot_name: "engine",
            snapshot_retain: SNAPSHOT_RETAIN,
            report_snapshots: &[],
            check_record: ballast_core::engine::kinds::check_body,
        };
        let cfg = &self.cfg;
        let limits = &self.limits;
        let recovered = recover(
            &spec,
            || EngineState::new(cfg),
            &mut |s: &mut EngineState, r| {
                let rec = EngineRecord::decode(&r.kind, r.body.get())?;
                s.apply(&rec, limits).map_err(|e| e.to_string())
            },
        );
        let (journal, rec) = match recovered {
            Ok(ok) => ok,
            // The disk still fails (a second fault armed): the engine cannot start yet; the
            // supervisor starts it again (the fault is spent once it fired).
            Err(
                e @ (RecoverError::Step { .. } | RecoverError::Journal(JournalError::Io { .. })),
            ) => {
                return Err(Down::Storage(format!("recovery: {e}")));
            }
            Err(e) => {
                self.problems.push(format!("recovery failed: {e}"));
                return Err(Down::Bug("recovery failed".into()));
            }
        };
        self.reconcile_with_checker(rec.last_seq, &rec.decision.outcome);
        if rec.state != *self.checker.replayed() {
            self.problems.push(format!(
                "recovery (snapshot at seq {} + {} records) did not rebuild the state the durable records replay to: {}",
                rec.snapshot_seq,
                rec.replayed,
                ledger::differences(&rec.state, self.checker.replayed())
            ));
        }
        self.say(format!(
            "  engine started: snapshot at seq {}, {} records replayed, journal at seq {}, {} heal(s)",
            rec.snapshot_seq,
            rec.replayed,
            rec.last_seq,
            rec.heals.len()
        ));
        self.figures.starts += 1;
        self.state = rec.state;
        self.journal = Some(journal);
        self.since_snapshot = 0;
        if self.state.controls.stamp.is_none() {
            self.commit(EngineRecord::Stamp(JournalStamp {
                mode: "paper".into(),
                account: PAPER.into(),
                broker: PAPER.into(),
                epoch: None,
            }))?;
        }
        Ok(())
    }

    /// The recovered journal against the records acknowledged: none lost, none invented (a
    /// record whose append failed may have reached the disk: it is the checker's then).
    fn reconcile_with_checker(&mut self, last_seq: u64, outcome: &ballast_core::recovery::Outcome) {
        if *outcome == ballast_core::recovery::Outcome::Salvage {
            self.problems.push(
                "recovery salvaged the journal (damage before its end): faults of this simulator only tear the tail".into(),
            );
        }
        let acked = self.checker.last_seq();
        let in_flight = self.in_flight.take();
        if last_seq < acked {
            self.problems.push(format!(
                "acknowledged records lost: the journal ends at seq {last_seq} after a restart, but seq {acked} was acknowledged"
            ));
        } else if last_seq == acked + 1 {
            match in_flight {
                Some(r) => {
                    self.say(format!(
                        "  the failed append of {} reached the disk (seq {last_seq})",
                        r.kind()
                    ));
                    self.checker.record(last_seq, &r);
                }
                None => self.problems.push(format!(
                    "the journal has seq {last_seq} after a restart, which no append wrote"
                )),
            }
        } else if last_seq > acked + 1 {
            self.problems.push(format!(
                "the journal ends at seq {last_seq} after a restart, {} records after the last one acknowledged ({acked})",
                last_seq - acked
            ));
        }
    }

    /// The journal as the disk holds it, read back whole, checked against the state (the end
    /// of a run): what a later `ballast chaos` or audit would read.
    pub fn check_disk(&mut self) {
        let mut records: Vec<(u64, EngineRecord)> = Vec::new();
        let dir = self.layout.engine_journal();
        let mut visit = |r: &ballast_store::record::RecordRef<'_>| {
            let rec = EngineRecord::decode(&r.kind, r.body.get())?;
            records.push((r.seq, rec));
            Ok(())
        };
        if let Err(e) = scan::scan(&self.storage, &dir, &mut visit) {
            self.problems
                .push(format!("the journal on disk does not read back: {e}"));
            return;
        }
        let initial = EngineState::new(&self.cfg);
        let through = records.last().map_or(0, |(s, _)| *s);
        let report = ledger::check(&ledger::Input {
            records: &records,
            initial: &initial,
            limits: &self.limits,
            produced: Some((&self.state, through)),
        });
        if !report.is_clean() {
            self.problems
                .push(format!("the journal read back from disk: {report}"));
        }
    }
}
