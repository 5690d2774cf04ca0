//! Which feed the engine's bars come from (`[feed.backup]`): the `feed.switch` records, so a
//! replay knows which feed each bar came from, and the count of the backup's bars.

use serde::{Deserialize, Serialize};

use super::EngineState;
use crate::market::fallback::{FeedSource, FeedSwitch};

/// The feed in use and what each delivered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedUse {
    /// The feed the next bars come from.
    pub active: FeedSource,
    /// Bars applied while on the backup (the rest are the primary's).
    pub backup_bars: u64,
    /// Switches journaled.
    pub switches: u64,
}

impl EngineState {
    /// Apply a `feed.switch` record: the bars after it come from `to`.
    pub fn apply_feed_switch(&mut self, r: &FeedSwitch) {
        self.feed.active = r.to;
        self.feed.switches += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{BarRecord, EngineRecord};
    use crate::guard::Limits;
    use crate::time::Timestamp;

    #[test]
    fn bars_are_counted_per_feed_across_switches_and_replay_and_snapshot_agree() {
        let cfg = crate::config::builtin().unwrap();
        let limits = Limits::from(&cfg);
        let bar = |n: i64| crate::market::Bar {
            symbol: crate::domain::Symbol::new("AAPL").unwrap(),
            ts: Timestamp::from_unix_ms(n * 86_400_000),
            open: 10.into(),
            high: 10.into(),
            low: 10.into(),
            close: 10.into(),
            volume: 1_000.into(),
        };
        let switch = |to| FeedSwitch {
            to,
            why: "test".into(),
            at: Timestamp::EPOCH,
        };
        let mut journal = Vec::new();
        for n in 0..10 {
            if n == 3 {
                journal.push(EngineRecord::FeedSwitch(switch(FeedSource::Backup)));
            }
            if n == 7 {
                journal.push(EngineRecord::FeedSwitch(switch(FeedSource::Primary)));
            }
            journal.push(EngineRecord::Bar(BarRecord {
                bar: bar(n),
                fills: Vec::new(),
            }));
        }
        let mut s = EngineState::new(&cfg);
        let fresh = serde_json::to_value(&s).unwrap();
        assert!(fresh.get("feed").is_none(), "unused: written as before");
        for r in &journal[..6] {
            s.apply(r, &limits).unwrap();
        }
        assert_eq!(s.feed.active, FeedSource::Backup);
        assert_eq!((s.bars, s.feed.backup_bars), (5, 2));
        assert_eq!(s.status().feed, FeedSource::Backup);
        let snap: EngineState = serde_json::from_value(serde_json::to_value(&s).unwrap()).unwrap();
        assert_eq!(snap, s);
        for r in &journal[6..] {
            s.apply(r, &limits).unwrap();
        }
        assert_eq!(s.feed.active, FeedSource::Primary);
        assert_eq!((s.bars, s.feed.backup_bars, s.feed.switches), (10, 4, 2));
        let mut again = EngineState::new(&cfg);
        for r in &journal {
            again.apply(r, &limits).unwrap();
        }
        assert_eq!(again, s);
    }
}
