//! Taking the signals accepted over HTTP: the records of `journal/signals/` (written by the
//! API, durable before it answered 202) after the last one taken, in order, at most
//! [`SIGNALS_TAKE_MAX_COUNT`] and as many as there is room for pending decisions, journaled
//! as one `signals.taken` record carrying the last seq taken. The seq is engine state: after
//! a crash of either process the engine resumes right after it, so each signal is taken
//! exactly once. A record the engine cannot take (its symbol left the universe, not a signal
//! of this build) is taken as refused — said, counted, never blocking the ones after it.

use ballast_core::config::Config;
use ballast_core::engine::{EngineRecord, EngineState, TakenRecord, TakenSignal};
use ballast_core::intake::{self, JournaledSignal};
use ballast_core::limits::SIGNALS_TAKE_MAX_COUNT;
use ballast_core::time::Timestamp;
use ballast_store::journal::follow::Follower;

use crate::runtime::{EngineError, Writer};

/// Where the engine reads `journal/signals/`.
pub(crate) struct SignalsIn {
    follower: Option<Follower>,
    /// The last read error said (said once until it changes).
    said: Option<String>,
}

impl SignalsIn {
    pub(crate) fn new() -> SignalsIn {
        SignalsIn {
            follower: None,
            said: None,
        }
    }
}

/// Take what was appended to `journal/signals/` since the last signal taken.
pub(crate) fn take_signals(
    state: &mut EngineState,
    config: &Config,
    w: &mut Writer<'_>,
    now: Timestamp,
    log: &mut dyn FnMut(&str),
) -> Result<(), EngineError> {
    let room = state.pending_room().min(SIGNALS_TAKE_MAX_COUNT);
    if room == 0 {
        return Ok(());
    }
    let after = state.decisions.signals_seq;
    let dir = w.layout.signals_journal();
    let max_record = config.journal.max_record_bytes;
    let sig = &mut w.signals;
    let follower = match &mut sig.follower {
        Some(f) if f.next_seq() == after + 1 => f,
        slot => slot.insert(Follower::new(dir, after, max_record)),
    };
    let records = match follower.read(room) {
        Ok(r) => {
            sig.said = None;
            r
        }
        Err(e) => {
            if sig.said.as_ref() != Some(&e) {
                log(&format!(
                    "warning: cannot take signals from journal/signals/: {e}; the signals after seq {after} wait"
                ));
                sig.said = Some(e);
            }
            // Read again from a fresh position next time.
            sig.follower = None;
            return Ok(());
        }
    };
    let Some(last) = records.last().map(|r| r.seq) else {
        return Ok(());
    };
    // One record, well under the journal's record bound (a smaller batch otherwise: the
    // rest is taken on the next loop).
    let budget = usize::try_from(max_record / 2).unwrap_or(usize::MAX);
    let mut used = 0usize;
    let mut signals = Vec::with_capacity(records.len());
    for r in &records {
        used += r.body.len() + 64;
        if used > budget && !signals.is_empty() {
            break;
        }
        signals.push(taken(r.seq, &r.kind, &r.body, config, now));
    }
    let last_seq = signals.last().map_or(last, |s: &TakenSignal| s.seq);
    if last_seq != last {
        sig.follower = None;
    }
    for s in signals.iter().filter(|s| s.refused.is_some()) {
        log(&format!(
            "warning: signal {} of journal/signals/ refused: {}",
            intake::signal_id(s.seq),
            s.refused.as_deref().unwrap_or_default()
        ));
    }
    w.commit(
        state,
        EngineRecord::Taken(TakenRecord { last_seq, signals }),
        log,
    )?;
    Ok(())
}

/// One record of `journal/signals/`, taken at `now`: its signal, or why not.
fn taken(seq: u64, kind: &str, body: &str, config: &Config, now: Timestamp) -> TakenSignal {
    let refused = |why: String| TakenSignal {
        seq,
        signal: None,
        refused: Some(why),
        expired: false,
    };
    if kind != intake::RECORD {
        return refused(format!(
            "a record of type {kind:?}, not {:?}",
            intake::RECORD
        ));
    }
    match serde_json::from_str::<JournaledSignal>(body) {
        Ok(j) if !config.feed.symbols.contains(&j.signal.symbol) => refused(format!(
            "symbol {} is no longer in the universe ([feed] symbols)",
            j.signal.symbol
        )),
        Ok(j)
            if j.signal
                .ttl_secs
                .is_some_and(|t| now.ms_since(j.at) > i64::from(t) * 1000) =>
        {
            TakenSignal {
                expired: true,
                ..refused(format!(
                    "expired: accepted at {}, ttl_secs {}, taken {} later",
                    j.at,
                    j.signal.ttl_secs.unwrap_or_default(),
                    ballast_core::time::Human::ms(now.ms_since(j.at).max(0).unsigned_abs())
                ))
            }
        }
        Ok(j) => TakenSignal {
            seq,
            signal: Some(j.signal),
            refused: None,
            expired: false,
        },
        Err(e) => refused(format!("not a signal of this build: {e}")),
    }
}
