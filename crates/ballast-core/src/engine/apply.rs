//! Applying a journal record to the engine's state: the one dispatch on the record's type.

use super::kinds::EngineRecord;
use super::{ApplyError, EngineState};
use crate::guard::Limits;

impl EngineState {
    /// Apply one record of the journal (durable first: the runtime applies what it journaled,
    /// the replay what it reads). `limits` feed the guard's memory (they only affect decisions
    /// still to be made).
    /// The limits are the journaled settings' once an `engine.settings` record is in force.
    pub fn apply(&mut self, record: &EngineRecord, limits: &Limits) -> Result<(), ApplyError> {
        let limits = &*self.limits_or(limits);
        match record {
            EngineRecord::Stamp(r) => self.controls.stamp = Some(r.clone()),
            EngineRecord::Bar(r) => self.apply_bar(r, limits)?,
            EngineRecord::Decision(r) => self.apply_decision(r, limits)?,
            EngineRecord::Inbox(r) => self.apply_inbox(r),
            EngineRecord::Liquidation(r) => self.apply_liquidation(r),
            EngineRecord::Sent(r) => self.apply_sent(r)?,
            EngineRecord::Settle(r) => self.apply_settle(r)?,
            EngineRecord::PaperSettings(r) => self.apply_paper_settings(r),
            EngineRecord::KillSwitch(r) => self.apply_kill_switch(r),
            EngineRecord::Policy(r) => self.apply_policy(r),
            EngineRecord::Expired(r) => self.apply_expiry(r),
            EngineRecord::Settings(r) => self.apply_settings(r),
            EngineRecord::FeedSwitch(r) => self.apply_feed_switch(r),
            EngineRecord::Taken(r) => self.apply_taken(r),
            EngineRecord::VenueFills(r) => self.book_fills(&r.fills, limits)?,
            EngineRecord::VenueOrder(r) => self.apply_venue_order(r),
            EngineRecord::Reconcile(r) => self.apply_reconcile(r),
            EngineRecord::Resolve(r) => self.apply_resolve(r),
        }
        Ok(())
    }
}
