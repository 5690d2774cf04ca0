//! The engine journal's record types, and the check that a record's body parses as its type:
//! the same check for the engine's replay and for every tool that inspects a journal
//! (`ballast journal verify`, `ballast heal`), so that they agree on what the engine refuses.

use serde::de::DeserializeOwned;

use super::{
    BarRecord, DecisionRecord, ExpiryRecord, InboxRecord, JournalStamp, KillSwitchRecord,
    LiquidationRecord, PaperSettingsRecord, PolicyRecord, SentRecord, SettleRecord,
};

pub const BAR: &str = "market.bar";
pub const DECISION: &str = "engine.decision";
pub const INBOX: &str = "inbox.line";
pub const LIQUIDATION: &str = "engine.liquidation";
pub const SENT: &str = "order.sent";
pub const SETTLE: &str = "order.settle";
pub const PAPER_SETTINGS: &str = "paper.settings";
pub const STAMP: &str = "journal.stamp";
pub const KILL_SWITCH: &str = "engine.kill_switch";
pub const POLICY: &str = "engine.policy";
pub const EXPIRED: &str = "signal.expired";
/// Every record type of the engine journal (`ballast journal dump --type` refuses others).
pub const ALL: &[&str] = &[
    STAMP,
    BAR,
    DECISION,
    INBOX,
    LIQUIDATION,
    SENT,
    SETTLE,
    PAPER_SETTINGS,
    KILL_SWITCH,
    POLICY,
    EXPIRED,
];

fn parses<T: DeserializeOwned>(kind: &str, body: &str) -> Result<(), String> {
    serde_json::from_str::<T>(body)
        .map(|_| ())
        .map_err(|e| format!("bad {kind} record: {e}"))
}

/// Whether `body` parses as a record of type `kind`. Only the engine writes its journal, so
/// a type it does not know is refused too: replaying past it would silently drop what it
/// stood for (a newer Ballast's record, or another program's).
pub fn check_body(kind: &str, body: &str) -> Result<(), String> {
    match kind {
        BAR => parses::<BarRecord>(kind, body),
        DECISION => parses::<DecisionRecord>(kind, body),
        LIQUIDATION => parses::<LiquidationRecord>(kind, body),
        KILL_SWITCH => parses::<KillSwitchRecord>(kind, body),
        EXPIRED => parses::<ExpiryRecord>(kind, body),
        POLICY => parses::<PolicyRecord>(kind, body),
        STAMP => parses::<JournalStamp>(kind, body),
        PAPER_SETTINGS => parses::<PaperSettingsRecord>(kind, body),
        SENT => parses::<SentRecord>(kind, body),
        SETTLE => parses::<SettleRecord>(kind, body),
        INBOX => parses::<InboxRecord>(kind, body),
        _ => Err(format!(
            "record type {kind:?} is not one this build's engine writes or reads (a newer Ballast or another program wrote it)"
        )),
    }
}

/// Whether `body` parses as the engine's state (a snapshot of it).
pub fn check_state(body: &str) -> Result<(), String> {
    serde_json::from_str::<super::EngineState>(body)
        .map(|_| ())
        .map_err(|e| e.to_string())
}
