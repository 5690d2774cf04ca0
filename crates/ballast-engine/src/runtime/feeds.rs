//! The engine's feeds: the primary `[feed]` and, when `[feed.backup]` names one, the backup.
//! Each loop the primary is watched on the injected clock; the pure rule
//! ([`ballast_core::market::fallback::decide`]) says when to switch, the switch is journaled
//! (`feed.switch`, said as an alert line) and the bars after it come from the other feed.
//! Both feeds stand for the same market: bar `n` of the engine is bar `n` of whichever feed is
//! in use, and the other one's bar `n` is dropped (a live feed's bars are gone once they are
//! not traded on). So each feed's position is the engine's bar count — after a switch and
//! after a restart alike — and a journal written before the backup existed resumes as before.

use ballast_core::config::{BackupKind, Config, FeedKind};
use ballast_core::engine::{EngineRecord, EngineState};
use ballast_core::market::Bar;
use ballast_core::market::fallback::{FallbackRule, FeedSource, PrimaryWatch, decide};
use ballast_core::time::Timestamp;

use super::{EngineError, Writer, build_feed};
use crate::feed::Feed;

/// Chaos (paper mode only): the primary delivers nothing while the engine's next bar number
/// is in `from..=to` (`to` absent: from `from` on), as a stalled market-data daemon would.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedStall {
    pub from: u64,
    pub to: Option<u64>,
}

impl FeedStall {
    /// `<from>` or `<from>..=<to>` (bar numbers, 1-based, `from <= to`).
    pub fn parse(text: &str) -> Result<FeedStall, String> {
        let number = |s: &str| s.trim().parse::<u64>().ok().filter(|n| *n > 0);
        let (from, to) = match text.split_once("..=") {
            Some((a, b)) => (number(a), Some(number(b))),
            None => (number(text), None),
        };
        match (from, to) {
            (Some(from), None) => Ok(FeedStall { from, to: None }),
            (Some(from), Some(Some(to))) if from <= to => Ok(FeedStall { from, to: Some(to) }),
            _ => Err(format!(
                "{text:?} is not <from_bar> or <from_bar>..=<to_bar> (bar numbers from 1, from <= to)"
            )),
        }
    }

    fn stalls(&self, bar: u64) -> bool {
        bar >= self.from && self.to.is_none_or(|to| bar <= to)
    }
}

/// A feed and how many of its bars were taken (used or dropped).
struct Positioned {
    feed: Feed,
    taken: u64,
}

impl Positioned {
    fn at(feed: Feed, bars: u64) -> Self {
        let mut p = Positioned { feed, taken: 0 };
        p.advance_to(bars);
        p
    }

    /// Drop bars until `n` are taken (those the engine took from the other feed).
    fn advance_to(&mut self, n: u64) {
        while self.taken < n {
            self.feed.next_bar();
            self.taken += 1;
        }
    }

    /// Bar `n + 1`.
    fn bar_after(&mut self, n: u64) -> Bar {
        self.advance_to(n);
        self.taken += 1;
        self.feed.next_bar()
    }
}

/// `[feed] kind = "alpaca"`: the venue's bars, asked every `bars_poll_secs` for those after
/// the last one taken, queued (bounded) and taken one per loop. A failed fetch delivers
/// nothing (the feed is stale; the backup, if any, takes over by its rule).
struct Polled {
    queue: std::collections::VecDeque<Bar>,
    /// The last bar taken (or journaled before this start): the next fetch is after it.
    after: Option<Timestamp>,
    last_fetch_ms: Option<i64>,
    every_ms: i64,
}

/// Bars asked for in one fetch, at most (the queue's bound: the next fetch is asked only
/// once it is empty).
pub(super) const MAX_POLLED_BARS: usize = 1_000;

impl Polled {
    fn next(
        &mut self,
        symbols: &[ballast_core::domain::Symbol],
        w: &mut Writer<'_>,
        now: Timestamp,
        log: &mut dyn FnMut(&str),
    ) -> Option<Bar> {
        let now_ms = now.unix_ms();
        if self.queue.is_empty()
            && ballast_core::engine::venue_gate::due(now_ms, self.last_fetch_ms, self.every_ms)
        {
            self.last_fetch_ms = Some(now_ms);
            let ext = w.venue.as_mut()?;
            let bars = ext.fetch_bars(symbols, self.after, MAX_POLLED_BARS, now, log)?;
            // Only bars after the last one taken, in time order (a venue that answers older
            // ones again adds nothing).
            let after = self.after;
            self.queue.extend(
                bars.into_iter()
                    .filter(|b| after.is_none_or(|a| b.ts > a))
                    .take(MAX_POLLED_BARS),
            );
        }
        let bar = self.queue.pop_front()?;
        self.after = Some(self.after.map_or(bar.ts, |a| a.max(bar.ts)));
        Some(bar)
    }
}

/// The primary feed: built (replay, synthetic), or polled from the venue.
enum Primary {
    Built(Positioned),
    Polled(Polled),
}

/// The primary, the backup with its rule, and what was seen of the primary.
pub(super) struct Feeds {
    primary: Primary,
    backup: Option<(Positioned, FallbackRule)>,
    watch: PrimaryWatch,
    stall: Option<FeedStall>,
}

impl Feeds {
    /// Both feeds, each at the engine's bar count.
    pub(super) fn new(
        config: &Config,
        state: &EngineState,
        stall: Option<FeedStall>,
        now: Timestamp,
        log: &mut dyn FnMut(&str),
    ) -> Result<Feeds, EngineError> {
        let primary = match config.feed.kind {
            FeedKind::Alpaca => Primary::Polled(Polled {
                queue: std::collections::VecDeque::new(),
                after: state.last_bar,
                last_fetch_ms: None,
                every_ms: ballast_core::time::ms_from_secs(config.broker.alpaca.bars_poll_secs),
            }),
            _ => Primary::Built(Positioned::at(build_feed(config, log)?, state.bars)),
        };
        let b = &config.feed.backup;
        let backup = match b.kind {
            BackupKind::None => None,
            kind => {
                let mut c = config.clone();
                c.feed.kind = if kind == BackupKind::Replay {
                    FeedKind::Replay
                } else {
                    FeedKind::Synthetic
                };
                c.feed.replay_file = b.replay_file.clone();
                // Its own walk: not the primary's bars again.
                c.feed.seed = config.feed.seed ^ 0x9e37_79b9_7f4a_7c15;
                let feed = Positioned::at(build_feed(&c, log)?, state.bars);
                Some((feed, FallbackRule::from(b)))
            }
        };
        Ok(Feeds {
            primary,
            backup,
            watch: PrimaryWatch::new(now),
            stall,
        })
    }

    /// The next bar, from the feed in use — after journaling a switch the rule asks for at
    /// `now` — or `None` when the primary in use has none now (stalled).
    pub(super) fn next(
        &mut self,
        state: &mut EngineState,
        w: &mut Writer<'_>,
        now: Timestamp,
        log: &mut dyn FnMut(&str),
    ) -> Result<Option<Bar>, EngineError> {
        let stalled = self.stall.is_some_and(|s| s.stalls(state.bars + 1));
        let polled = match &mut self.primary {
            Primary::Polled(p) if !stalled => p.next(&w.config.feed.symbols, w, now, log),
            _ => None,
        };
        let primary_has = match &self.primary {
            Primary::Built(_) => !stalled,
            Primary::Polled(_) => polled.is_some(),
        };
        if let Some((_, rule)) = &self.backup {
            self.watch.observe(primary_has, now, rule);
            if let Some(switch) = decide(rule, state.feed.active, &self.watch, now) {
                w.commit(state, EngineRecord::FeedSwitch(switch), log)?;
            }
        }
        let n = state.bars;
        Ok(match (state.feed.active, &mut self.backup) {
            (FeedSource::Backup, Some((backup, _))) => Some(backup.bar_after(n)),
            _ if primary_has => match &mut self.primary {
                Primary::Built(p) => Some(p.bar_after(n)),
                Primary::Polled(_) => polled,
            },
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stall_knob_is_a_bar_or_a_range_of_bars() {
        assert_eq!(FeedStall::parse("40"), Ok(FeedStall { from: 40, to: None }));
        let s = FeedStall::parse("40..=60").unwrap();
        assert_eq!(s.to, Some(60));
        assert!(!s.stalls(39) && s.stalls(40) && s.stalls(60) && !s.stalls(61));
        for bad in ["", "0", "x", "60..=40", "40..60", "40..=", "..=60"] {
            assert!(FeedStall::parse(bad).is_err(), "{bad}");
        }
    }
}
