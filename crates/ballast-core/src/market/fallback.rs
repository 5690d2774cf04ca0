//! The feed fallback (`[feed.backup]`): which feed the engine takes its bars from. The
//! primary is watched on the wall clock (injected: the runtime passes `now`); once it has
//! delivered no bar for `stale_secs` the engine switches to the backup, and back once the
//! primary has delivered bars again without such a gap for `recover_secs` — the rule of the
//! supervisor's fallback services. Each switch is journaled (`feed.switch`) before the bars of
//! the other feed are, so a replay knows which feed each bar came from.

use serde::{Deserialize, Serialize};

use crate::config::FeedBackup;
use crate::time::{Human, Timestamp, ms_from_secs};

/// A feed of the engine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedSource {
    #[default]
    Primary,
    Backup,
}

impl FeedSource {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedSource::Primary => "primary",
            FeedSource::Backup => "backup",
        }
    }
}

/// When to switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FallbackRule {
    /// The primary is stale after this long without a bar.
    pub stale_ms: i64,
    /// Back to the primary after this long of bars without a stale gap.
    pub recover_ms: i64,
}

impl From<&FeedBackup> for FallbackRule {
    fn from(b: &FeedBackup) -> Self {
        FallbackRule {
            stale_ms: ms_from_secs(b.stale_secs),
            recover_ms: ms_from_secs(b.recover_secs),
        }
    }
}

/// What the runtime saw of the primary (wall clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrimaryWatch {
    /// Its last bar (at the start: the start, so a feed that never delivers goes stale too).
    pub last_bar_at: Timestamp,
    /// Since when it has delivered bars without a stale gap; `None` while it is stale.
    pub fresh_since: Option<Timestamp>,
}

impl PrimaryWatch {
    /// Watching from `start` on: the primary has until `stale_ms` to deliver, and has to be
    /// seen delivering before it counts as fresh (an engine restarted on the backup does not
    /// hand back to a primary it has not seen yet).
    pub fn new(start: Timestamp) -> Self {
        PrimaryWatch {
            last_bar_at: start,
            fresh_since: None,
        }
    }

    /// The primary had a bar at `now`, or had none.
    pub fn observe(&mut self, had_bar: bool, now: Timestamp, rule: &FallbackRule) {
        if had_bar {
            self.last_bar_at = now;
            self.fresh_since.get_or_insert(now);
        } else if now.ms_since(self.last_bar_at) >= rule.stale_ms {
            self.fresh_since = None;
        }
    }
}

/// A switch to journal: to which feed, and why in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedSwitch {
    pub to: FeedSource,
    pub why: String,
    /// When it was decided (wall clock).
    pub at: Timestamp,
}

/// The switch due at `now` while `active` is in use, if any.
pub fn decide(
    rule: &FallbackRule,
    active: FeedSource,
    watch: &PrimaryWatch,
    now: Timestamp,
) -> Option<FeedSwitch> {
    let age = now.ms_since(watch.last_bar_at).max(0);
    let secs = |ms: i64| Human(ms.max(0).unsigned_abs());
    match active {
        FeedSource::Primary if age >= rule.stale_ms => Some(FeedSwitch {
            to: FeedSource::Backup,
            why: format!(
                "the primary feed delivered no bar for {} (stale after {}): trading on the backup feed",
                secs(age),
                secs(rule.stale_ms)
            ),
            at: now,
        }),
        FeedSource::Backup => {
            let fresh = watch.fresh_since.map(|t| now.ms_since(t))?;
            (age < rule.stale_ms && fresh >= rule.recover_ms).then(|| FeedSwitch {
                to: FeedSource::Primary,
                why: format!(
                    "the primary feed is fresh again: bars for {} without a stale gap (recover after {}): back on the primary feed",
                    secs(fresh),
                    secs(rule.recover_ms)
                ),
                at: now,
            })
        }
        FeedSource::Primary => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: FallbackRule = FallbackRule {
        stale_ms: 3_000,
        recover_ms: 5_000,
    };

    fn t(ms: i64) -> Timestamp {
        Timestamp::from_unix_ms(ms)
    }

    #[test]
    fn a_stale_primary_switches_to_the_backup_and_back_after_it_is_fresh_long_enough() {
        let mut w = PrimaryWatch::new(t(0));
        let mut active = FeedSource::Primary;
        let mut switches = Vec::new();
        // Bars every 100 ms until 1 s, nothing until 10 s, then bars again.
        for ms in (0..=20_000).step_by(100) {
            w.observe(!(1_000..10_000).contains(&ms), t(ms), &RULE);
            if let Some(s) = decide(&RULE, active, &w, t(ms)) {
                active = s.to;
                switches.push((ms, s.to, s.why));
            }
        }
        assert_eq!(switches.len(), 2, "{switches:?}");
        assert_eq!((switches[0].0, switches[0].1), (3_900, FeedSource::Backup));
        assert!(
            switches[0].2.contains("no bar for 3 s"),
            "{}",
            switches[0].2
        );
        assert_eq!(
            (switches[1].0, switches[1].1),
            (15_000, FeedSource::Primary)
        );
        assert!(switches[1].2.contains("fresh again"), "{}", switches[1].2);
    }

    #[test]
    fn a_primary_that_flaps_within_the_recovery_time_stays_on_the_backup() {
        let mut w = PrimaryWatch::new(t(0));
        w.observe(false, t(4_000), &RULE);
        assert_eq!(
            decide(&RULE, FeedSource::Primary, &w, t(4_000)).map(|s| s.to),
            Some(FeedSource::Backup)
        );
        // A bar, then a stale gap again before recover_ms: the fresh run starts over.
        w.observe(true, t(5_000), &RULE);
        w.observe(false, t(8_500), &RULE);
        assert_eq!(w.fresh_since, None);
        for ms in (9_000..=13_900).step_by(100) {
            w.observe(true, t(ms), &RULE);
            assert_eq!(decide(&RULE, FeedSource::Backup, &w, t(ms)), None, "{ms}");
        }
        w.observe(true, t(14_000), &RULE);
        assert!(decide(&RULE, FeedSource::Backup, &w, t(14_000)).is_some());
        // An engine started on the backup waits to see the primary deliver.
        let w = PrimaryWatch::new(t(0));
        assert_eq!(decide(&RULE, FeedSource::Backup, &w, t(10_000)), None);
        // A primary that never delivers goes stale from the start.
        assert!(decide(&RULE, FeedSource::Primary, &w, t(2_999)).is_none());
        assert!(decide(&RULE, FeedSource::Primary, &w, t(3_000)).is_some());
    }
}
