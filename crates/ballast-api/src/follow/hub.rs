//! The live events of `/v1/events`: every journal record the follower reads and every health
//! change, in the order they were seen, kept in a bounded ring (for resuming) and broadcast to
//! the open streams. Subscribing takes the ring's lock, so a new stream's backlog and its live
//! part meet exactly: no event is missed and none is sent twice.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

/// Events kept for resuming (a stream resuming from before the oldest is told it missed some),
/// and their data's bytes at most: the oldest are dropped at either bound.
pub const EVENTS_KEPT_COUNT: usize = 20_000;
pub const EVENTS_KEPT_MAX_BYTES: usize = 64 << 20;
/// Events an open stream may fall behind the newest before it is dropped (a slow client is
/// dropped, never buffered without bound).
pub const STREAM_LAG_MAX_COUNT: usize = 4_096;

/// Where a stream stands: the last engine-journal and ops-journal seq it has seen. An event's
/// `id:` is this pair after it, `<engine seq>.<ops seq>`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cursor {
    pub engine: u64,
    pub ops: u64,
}

impl Cursor {
    pub fn token(self) -> String {
        format!("{}.{}", self.engine, self.ops)
    }

    /// Parse a token of [`Cursor::token`]; `None`: not one.
    pub fn parse(text: &str) -> Option<Cursor> {
        let (e, o) = text.trim().split_once('.')?;
        let digits =
            |s: &str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(e) || !digits(o) {
            return None;
        }
        Some(Cursor {
            engine: e.parse().ok()?,
            ops: o.parse().ok()?,
        })
    }
}

/// Which journal an event comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Engine,
    Ops,
    /// A health change (not a journal record: never replayed; the current report is sent first
    /// on every stream).
    Health,
}

/// One event of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub source: Source,
    /// The journal seq (for health: 0).
    pub seq: u64,
    /// The cursor just after this event.
    pub cursor: Cursor,
    /// `event:` — the record kind's family (`market`, `order`, `heal`, `alert`, `health`, …).
    pub family: String,
    /// `data:` — one line of JSON.
    pub data: String,
}

impl Event {
    /// Whether this event comes after `cursor` (health events are never replayed).
    pub fn after(&self, cursor: Cursor) -> bool {
        match self.source {
            Source::Engine => self.seq > cursor.engine,
            Source::Ops => self.seq > cursor.ops,
            Source::Health => false,
        }
    }
}

/// The family of a record kind: its part before the first dot.
pub fn family(kind: &str) -> &str {
    kind.split('.').next().unwrap_or(kind)
}

#[derive(Debug, Default)]
struct Ring {
    events: VecDeque<Arc<Event>>,
    /// The highest seq of each journal dropped from the ring (0: none).
    engine_floor: u64,
    ops_floor: u64,
    now: Cursor,
    /// Bytes of the kept events' data.
    bytes: usize,
    /// The newest health event (sent first on every stream).
    health: Option<Arc<Event>>,
}

/// What a new stream gets: the events after its cursor still kept, whether some after it are
/// no longer kept, and the live feed from there.
pub struct Subscription {
    pub backlog: Vec<Arc<Event>>,
    pub missed: bool,
    pub live: broadcast::Receiver<Arc<Event>>,
    pub now: Cursor,
    /// The current health, if the supervisor published one.
    pub health: Option<Arc<Event>>,
}

#[derive(Debug)]
pub struct Hub {
    ring: Mutex<Ring>,
    tx: broadcast::Sender<Arc<Event>>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            ring: Mutex::new(Ring::default()),
            tx: broadcast::channel(STREAM_LAG_MAX_COUNT).0,
        }
    }
}

impl Hub {
    /// The cursor after the newest event.
    pub fn now(&self) -> Cursor {
        self.ring.lock().map(|r| r.now).unwrap_or_default()
    }

    /// Publish a journal record (`source` Engine or Ops) or a health change.
    pub fn push(&self, source: Source, seq: u64, family: &str, data: String) {
        let Ok(mut ring) = self.ring.lock() else {
            return;
        };
        match source {
            Source::Engine => ring.now.engine = seq,
            Source::Ops => ring.now.ops = seq,
            Source::Health => {}
        }
        let event = Arc::new(Event {
            source,
            seq,
            cursor: ring.now,
            family: family.to_owned(),
            data,
        });
        if source == Source::Health {
            ring.health = Some(Arc::clone(&event));
        } else {
            ring.bytes += event.data.len();
            ring.events.push_back(Arc::clone(&event));
            while ring.events.len() > EVENTS_KEPT_COUNT || ring.bytes > EVENTS_KEPT_MAX_BYTES {
                let Some(old) = ring.events.pop_front() else {
                    break;
                };
                ring.bytes -= old.data.len();
                match old.source {
                    Source::Engine => ring.engine_floor = old.seq,
                    Source::Ops => ring.ops_floor = old.seq,
                    Source::Health => {}
                }
            }
        }
        // No receiver is not an error: nobody is watching.
        let _ = self.tx.send(event);
    }

    /// Forget the events of `source` (its journal was reset under the follower: the seqs
    /// after `seq` will be read again).
    pub fn rewind(&self, source: Source, seq: u64) {
        if let Ok(mut ring) = self.ring.lock() {
            ring.events.retain(|e| e.source != source || e.seq <= seq);
            ring.bytes = ring.events.iter().map(|e| e.data.len()).sum();
            match source {
                Source::Engine => ring.now.engine = ring.now.engine.min(seq),
                Source::Ops => ring.now.ops = ring.now.ops.min(seq),
                Source::Health => {}
            }
        }
    }

    /// A new stream from `cursor` (`None`: from now).
    pub fn subscribe(&self, cursor: Option<Cursor>) -> Subscription {
        let ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        let live = self.tx.subscribe();
        let Some(c) = cursor else {
            return Subscription {
                backlog: Vec::new(),
                missed: false,
                live,
                now: ring.now,
                health: ring.health.clone(),
            };
        };
        Subscription {
            backlog: ring.events.iter().filter(|e| e.after(c)).cloned().collect(),
            missed: c.engine < ring.engine_floor || c.ops < ring.ops_floor,
            live,
            now: ring.now,
            health: ring.health.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_junk_is_refused() {
        let c = Cursor { engine: 42, ops: 7 };
        assert_eq!(Cursor::parse(&c.token()), Some(c));
        for bad in [
            "",
            "42",
            "a.b",
            "1.",
            ".1",
            "1.2.3",
            "-1.2",
            "99999999999999999999999.1",
        ] {
            assert_eq!(Cursor::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_subscription_resumes_exactly_after_its_cursor() {
        let hub = Hub::default();
        for seq in 1..=5 {
            hub.push(Source::Engine, seq, "market", format!("{seq}"));
            if seq % 2 == 0 {
                hub.push(Source::Ops, seq / 2, "heal", format!("o{seq}"));
            }
        }
        hub.push(Source::Health, 0, "health", "h".into());
        // After the event with id 2.1 (ops 1 came after engine 2).
        let s = hub.subscribe(Some(Cursor { engine: 2, ops: 1 }));
        let data: Vec<_> = s.backlog.iter().map(|e| e.data.as_str()).collect();
        assert_eq!(data, ["3", "4", "o4", "5"]);
        assert!(!s.missed);
        assert_eq!(s.now, Cursor { engine: 5, ops: 2 });
    }

    #[test]
    fn resuming_before_the_oldest_kept_event_says_so() {
        let hub = Hub::default();
        for seq in 1..=(EVENTS_KEPT_COUNT as u64 + 3) {
            hub.push(Source::Engine, seq, "market", String::new());
        }
        assert!(hub.subscribe(Some(Cursor { engine: 2, ops: 0 })).missed);
        assert!(!hub.subscribe(Some(Cursor { engine: 3, ops: 0 })).missed);
    }

    #[test]
    fn the_kept_events_are_bounded_in_bytes_too() {
        let hub = Hub::default();
        let big = "x".repeat(1 << 20);
        for seq in 1..=100 {
            hub.push(Source::Engine, seq, "market", big.clone());
        }
        let s = hub.subscribe(Some(Cursor::default()));
        assert!(s.missed);
        assert_eq!(s.backlog.len(), EVENTS_KEPT_MAX_BYTES >> 20);
        assert_eq!(s.backlog.last().map(|e| e.seq), Some(100));
    }
}
